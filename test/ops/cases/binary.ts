// Broadcasting binary ops and their gradients, reduced back over the broadcast axes. Forward: one
// rounding relative to the terms' magnitude (|a| + |b| for add and sub, which cancel), 2.5 ULP for
// division, exact min/max. Gradients sum K = (output size / operand size) rounded terms.
import { ops } from '../../../engine/index.ts';
import type { Tensor } from '../../../engine/index.ts';
import * as ref from '../../../engine/reference/elementwise.ts';
import { map, type Nd } from '../../../engine/reference/nd.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { OpCase } from '../../helpers/op-case.ts';
import { abs, rounded, sumOf } from './bounds.ts';

const BROADCAST: [number[], number[]][] = [
  [[5], [5]], [[3, 7], [7]], [[2, 3, 5], [3, 1]], [[4, 1, 6], [1, 5, 1]], [[2, 3, 9, 11], [1, 3, 1, 1]], [[1], [2, 3, 4]],
];

type F = (x: number, y: number) => number;

interface BinaryOp {
  name: string;
  gpu: (a: Tensor, b: Tensor) => Tensor;
  f: F;
  /** Magnitude of the terms of f(a, b) and its rounding count. */
  magnitude: F;
  ops: number;
  /** ∂f/∂a, ∂f/∂b, and the roundings of g·∂f (division: g/b; g·a/b² as (g·a)/(b·b), negated). */
  grads?: [F, F, number, number];
}

const BINARY: BinaryOp[] = [
  { name: 'add', gpu: ops.add, f: (x, y) => x + y, magnitude: (x, y) => Math.abs(x) + Math.abs(y), ops: 1, grads: [() => 1, () => 1, 0, 0] },
  { name: 'sub', gpu: ops.sub, f: (x, y) => x - y, magnitude: (x, y) => Math.abs(x) + Math.abs(y), ops: 1, grads: [() => 1, () => -1, 0, 0] },
  { name: 'mul', gpu: ops.mul, f: (x, y) => x * y, magnitude: (x, y) => Math.abs(x * y), ops: 1, grads: [(_x, y) => y, (x) => x, 1, 1] },
  { name: 'div', gpu: ops.div, f: (x, y) => x / y, magnitude: (x, y) => Math.abs(x / y), ops: 3, grads: [(_x, y) => 1 / y, (x, y) => -x / (y * y), 3, 6] },
  { name: 'minimum', gpu: ops.minimum, f: Math.min, magnitude: (x, y) => Math.abs(Math.min(x, y)), ops: 1 },
  { name: 'maximum', gpu: ops.maximum, f: Math.max, magnitude: (x, y) => Math.abs(Math.max(x, y)), ops: 1 },
];

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

function binaryCase(op: BinaryOp, sa: number[], sb: number[]): OpCase {
  const out = ref.broadcastShape(sa, sb);
  const gradOf = (xs: Nd[], g: Nd, df: F, shape: number[]) => ref.sumTo(ref.binary(ref.binary(xs[0], xs[1], df), g, (d, gg) => d * gg), shape);
  return {
    op: op.name,
    name: `${op.name} [${sa}]∘[${sb}]`,
    make: (random) => ({
      // Divisors, and both operands of min/max, kept ≥ 0.5 in magnitude: no division blow-up.
      inputs: [randomNd(random, sa), map(randomNd(random, sb), (v) => Math.fround((Math.abs(v) + 0.5) * Math.sign(v || 1)))],
      gpu: ([a, b]) => op.gpu(a, b),
      ref: ([a, b]) => ref.binary(a, b, op.f),
      refGrads: op.grads && ((xs, g) => [gradOf(xs, g, op.grads![0], sa), gradOf(xs, g, op.grads![1], sb)]),
      bounds: (xs, { g }) => ({
        forward: rounded(ref.binary(xs[0], xs[1], op.magnitude).data, op.ops),
        grads: op.grads
          ? [[op.grads[0], sa, op.grads[2]] as const, [op.grads[1], sb, op.grads[3]] as const].map(([df, shape, roundings]) =>
              sumOf(abs(ref.sumTo(ref.binary(ref.binary(xs[0], xs[1], (x, y) => Math.abs(df(x, y))), g, (d, gg) => d * Math.abs(gg)), shape).data), size(out) / size(shape) + roundings))
          : [],
      }),
    }),
  };
}

export const BINARY_CASES: OpCase[] = BINARY.flatMap((op) => BROADCAST.map(([sa, sb]) => binaryCase(op, sa, sb)));
