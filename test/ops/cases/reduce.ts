// sum and mean over axes up to 90,601 terms. An output sums K = Π reduced extents terms, so it errs by
// ≤ (K − 1)·U·Σ|x| in any order (mean: one scaling more). The gradient broadcasts g (exact), times
// 1/K for mean (1/K rounded, then the product).
import { ops } from '../../../engine/index.ts';
import * as ref from '../../../engine/reference/elementwise.ts';
import { map, nd, type Nd } from '../../../engine/reference/nd.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { OpCase } from '../../helpers/op-case.ts';
import { rounded, sumOf } from './bounds.ts';

const CASES: [number[], number[]][] = [[[7], [0]], [[3, 5], [1]], [[3, 5], [0]], [[2, 3, 5, 7], [0, 2, 3]], [[4, 3, 2], [0, 1, 2]], [[300, 301], [0, 1]]];

function reduceCase(mean: boolean, shape: number[], axes: number[]): OpCase {
  const K = axes.reduce((n, a) => n * shape[a], 1);
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const forward = (x: Nd) => map(ref.sum(x, axes, false), (v) => (mean ? v / K : v));
  const name = mean ? 'mean' : 'sum';
  return {
    op: name,
    name: `${name} [${shape}] axes ${axes}`,
    make: (random) => ({
      inputs: [randomNd(random, shape)],
      gpu: ([t]) => (mean ? ops.mean(t, axes) : ops.sum(t, axes)),
      ref: ([x]) => forward(x),
      refGrads: (_xs, g) => [ref.binary(nd(kept, g.data.map((v) => (mean ? v / K : v))), nd(shape), (v) => v)],
      bounds: ([x], { grads }) => ({
        forward: sumOf(forward(map(x, Math.abs)).data, K + (mean ? 1 : 0)),
        grads: [rounded(grads[0].data, mean ? 2 : 1)],
      }),
    }),
  };
}

export const REDUCE_CASES: OpCase[] = [false, true].flatMap((mean) => CASES.map(([shape, axes]) => reduceCase(mean, shape, axes)));
