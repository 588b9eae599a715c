// matmul (batched, transposed operands, rank-2 operands broadcast over the batch) and linear with
// fused bias and activation. An output sums K products (+ the bias); the gradient of A sums N·batch
// products, of B M·batch (a broadcast operand collects every batch), of the bias rows·1.
import { ops } from '../../../engine/index.ts';
import * as ref from '../../../engine/reference/elementwise.ts';
import { nd, type Nd } from '../../../engine/reference/nd.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { OpCase } from '../../helpers/op-case.ts';
import { activateNd, activationGrad, type Activation } from './bounds.ts';
import { multilinearBounds } from './multilinear.ts';

const SHAPES: { a: number[]; b: number[] }[] = [
  { a: [1, 1], b: [1, 1] }, { a: [5, 3], b: [3, 7] }, { a: [33, 65], b: [65, 17] }, { a: [3, 9, 13], b: [3, 13, 5] },
  { a: [4, 6, 10], b: [10, 3] }, { a: [6, 10], b: [2, 10, 7] }, { a: [70, 5], b: [5, 130] },
];

/** The stored array whose (last two axes) transpose has `shape`. */
function transposed(x: Nd): Nd {
  const s = x.shape, r = s[s.length - 2], q = s[s.length - 1], B = s.length === 3 ? s[0] : 1;
  const out = nd(s.length === 3 ? [B, q, r] : [q, r]);
  for (let t = 0; t < B; t++) for (let i = 0; i < r; i++) for (let j = 0; j < q; j++) out.data[t * r * q + j * r + i] = x.data[t * r * q + i * q + j];
  return out;
}

function matmulCase(sa: number[], sb: number[], transA: boolean, transB: boolean): OpCase {
  const [M, K] = sa.slice(-2), N = sb[sb.length - 1];
  const batch = Math.max(sa.length === 3 ? sa[0] : 1, sb.length === 3 ? sb[0] : 1);
  const pre = ([a, b]: Nd[]) => ref.matmul(a, b, transA, transB);
  // Gradients w.r.t. the stored (possibly transposed) arrays.
  const preGrads = ([a, b]: Nd[], g: Nd) => [
    ref.sumTo(transA ? ref.matmul(b, g, transB, true) : ref.matmul(g, b, false, !transB), a.shape),
    ref.sumTo(transB ? ref.matmul(g, a, true, transA) : ref.matmul(a, g, !transA, false), b.shape),
  ];
  return {
    op: 'matmul',
    name: `matmul [${sa}]${transA ? 'ᵀ' : ''}·[${sb}]${transB ? 'ᵀ' : ''}`,
    make: (random) => {
      const a = randomNd(random, sa), b = randomNd(random, sb);
      return {
        inputs: [transA ? transposed(a) : a, transB ? transposed(b) : b],
        gpu: ([x, y]) => ops.matmul(x, y, { transA, transB }),
        ref: pre,
        refGrads: preGrads,
        bounds: multilinearBounds({ pre, preGrads, K, gradK: [N * batch, M * batch] }),
      };
    },
  };
}

function linearCase(act: Activation): OpCase {
  const [rows, inF, outF] = [9, 21, 11];
  const pre = ([x, w, b]: Nd[]) => ref.binary(ref.matmul(x, w, false, true), b, (p, q) => p + q);
  const preGrads = ([x, w]: Nd[], g: Nd) => [ref.matmul(g, w), ref.matmul(g, x, true, false), ref.sumTo(g, [outF])];
  return {
    op: 'linear',
    name: `linear [${rows},${inF}]→${outF} +bias ${act}`,
    make: (random) => ({
      inputs: [randomNd(random, [rows, inF]), randomNd(random, [outF, inF]), randomNd(random, [outF])],
      gpu: ([x, w, b]) => ops.linear(x, w, b, act),
      ref: (xs) => activateNd(act, pre(xs)),
      refGrads: (xs, g) => preGrads(xs, activationGrad(act, pre(xs).data, g)),
      bounds: multilinearBounds({ pre, preGrads, K: inF + 1, gradK: [outF, rows, rows] }, act),
      finiteDiff: act !== 'relu',
    }),
  };
}

export const MATMUL_CASES: OpCase[] = [
  ...SHAPES.flatMap(({ a, b }) => [false, true].flatMap((transA) => [false, true].map((transB) => matmulCase(a, b, transA, transB)))),
  ...(['none', 'relu', 'silu'] as const).map(linearCase),
];
