// Elementwise unary ops on odd sizes up to 257,000 elements. Bounds are per element (no sums):
// exact ops get one ulp of slack; transcendentals the WGSL accuracy limits (bounds.ts); a
// derivative kernel one more rounding per factor.
import { ops } from '../../../engine/index.ts';
import type { Tensor } from '../../../engine/index.ts';
import { secondDerivative, unary } from '../../../engine/reference/elementwise.ts';
import { unarySecondDerivative, type UnaryFn } from '../../../engine/ops/unary.ts';
import { map, nd } from '../../../engine/reference/nd.ts';
import { U } from '../../helpers/error-bound.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { OpCase } from '../../helpers/op-case.ts';
import { SAFETY, activationBackward, rounded } from './bounds.ts';

const SHAPES = [[1], [7], [3, 5], [2, 3, 17], [2, 3, 13, 11], [1000, 257]];
const CLAMP = [-0.5, 0.75] as const;
const AFFINE = [2.5, -1] as const;

/** Keeps inputs 2e-3 clear of a kink, far beyond the finite-difference step (1e-5). */
const clearOf = (kinks: readonly number[]) => (v: number) => {
  const near = kinks.find((k) => Math.abs(v - k) < 2e-3);
  return Math.fround(near === undefined ? v : near + 2e-3 * Math.sign(v - near || 1));
};

interface UnaryOp {
  name: string;
  gpu: (t: Tensor) => Tensor;
  f: (v: number) => number;
  df: (v: number) => number;
  input: (v: number) => number;
  /** Error bound of the forward at x. */
  fwd: (x: number) => number;
  /** Error bound of g·f′(x). */
  grad: (x: number, g: number) => number;
}

const ulps = (n: number, v: number) => SAFETY * n * 2 * U * Math.abs(v);
const exactOp = (name: string, gpu: UnaryOp['gpu'], f: UnaryOp['f'], df: UnaryOp['df'], kinks: readonly number[]): UnaryOp => ({
  name, gpu, f, df, input: clearOf(kinks), fwd: (x) => rounded(Float64Array.of(f(x)), 1)[0], grad: (x, g) => rounded(Float64Array.of(g * df(x)), 1)[0],
});

const UNARY: UnaryOp[] = [
  exactOp('relu', ops.relu, unary.relu.f, unary.relu.df, [0]),
  exactOp('sign', ops.sign, unary.sign.f, unary.sign.df, [0]),
  exactOp('abs', ops.abs, unary.abs.f, unary.abs.df, [0]),
  exactOp('clamp', (t) => ops.clamp(t, ...CLAMP), (v) => Math.min(Math.max(v, CLAMP[0]), CLAMP[1]), (v) => (v >= CLAMP[0] && v <= CLAMP[1] ? 1 : 0), CLAMP),
  // a·x + b rounds once or twice, relative to the terms' magnitude |a·x| + |b|; the derivative is a·g.
  { name: 'affine', gpu: (t) => ops.affine(t, ...AFFINE), f: (v) => AFFINE[0] * v + AFFINE[1], df: () => AFFINE[0], input: Math.fround,
    fwd: (x) => ulps(2, Math.abs(AFFINE[0] * x) + Math.abs(AFFINE[1])), grad: (_x, g) => ulps(1, AFFINE[0] * g) },
  { name: 'square', gpu: ops.square, f: unary.square.f, df: unary.square.df, input: Math.fround, fwd: (x) => ulps(1, x * x), grad: (x, g) => ulps(2, 2 * x * g) },
  // exp: 3 + 2|x| ULP; its derivative one product more.
  { name: 'exp', gpu: ops.exp, f: Math.exp, df: Math.exp, input: Math.fround, fwd: (x) => ulps(3 + 2 * Math.abs(x), Math.exp(x)), grad: (x, g) => ulps(4 + 2 * Math.abs(x), g * Math.exp(x)) },
  // log: 3 ULP, or 2⁻²¹ absolute in [0.5, 2] where log x is near 0; derivative g/x is one division.
  { name: 'log', gpu: ops.log, f: Math.log, df: (v) => 1 / v, input: (v) => Math.fround(Math.abs(v) + 0.1),
    fwd: (x) => ulps(3, Math.log(x)) + SAFETY * 2 ** -21, grad: (x, g) => ulps(3, g / x) },
  // sqrt: 2.5 ULP (WGSL's inverseSqrt-derived limit); derivative 0.5·g/√x.
  { name: 'sqrt', gpu: ops.sqrt, f: Math.sqrt, df: (v) => 0.5 / Math.sqrt(v), input: (v) => Math.fround(Math.abs(v) + 0.1),
    fwd: (x) => ulps(3, Math.sqrt(x)), grad: (x, g) => ulps(6, (0.5 * g) / Math.sqrt(x)) },
  // silu: the activation bounds of bounds.ts with an exact input.
  { name: 'silu', gpu: ops.silu, f: unary.silu.f, df: unary.silu.df, input: Math.fround,
    fwd: (x) => SAFETY * (6 + 2 * Math.abs(x)) * U * Math.abs(unary.silu.f(x)),
    grad: (x, g) => activationBackward('silu', Float64Array.of(x), Float64Array.of(0), nd([1], [g])).gPreErr[0] },
];

const unaryCase = (op: UnaryOp, shape: number[]): OpCase => ({
  op: op.name,
  name: `${op.name} [${shape}]`,
  make: (random) => ({
    inputs: [map(randomNd(random, shape), op.input)],
    gpu: ([t]) => op.gpu(t),
    ref: ([x]) => map(x, op.f),
    refGrads: ([x], g) => [map(x, (v, i) => g.data[i] * op.df(v))],
    bounds: ([x], { g }) => ({ forward: x.data.map(op.fwd), grads: [x.data.map((v, i) => op.grad(v, g.data[i]))] }),
  }),
});

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * The SECOND pass g·gg·f''(x): the product g·gg rounds once and the final product once; f''(x)
 * carries its own error, in ULP of |f''| where f'' is one formula, and for SiLU the propagated
 * error of σ (exp: 3 + 2|x| ULP, then 1 + e and 1/·) through σ(1 − σ)(2 + x(1 − 2σ)), where
 * 1 − σ cancels, so that bound is absolute.
 */
interface SecondOp {
  name: string;
  fn: UnaryFn;
  d2f: (v: number) => number;
  input: (v: number) => number;
  /** Absolute error bound of the computed f''(x). */
  err: (x: number) => number;
}

function siluSecondErr(v: number): number {
  const s = sigmoid(v);
  const es = (6 + 2 * Math.abs(v)) * U * s;
  const oneMinus = 1 - s, t = 2 + v * (1 - 2 * s);
  const e1 = es + U;
  const eT = Math.abs(v) * (2 * es + 2 * U) + U * (2 + Math.abs(v));
  return SAFETY * (es * Math.abs(oneMinus * t) + s * e1 * Math.abs(t) + s * oneMinus * eT + 2 * U * Math.abs(s * oneMinus * t));
}

const positive = (v: number) => Math.fround(Math.abs(v) + 0.1);
const SECOND: SecondOp[] = [
  { name: 'silu', fn: 'SILU', d2f: secondDerivative.silu, input: Math.fround, err: siluSecondErr },
  { name: 'square', fn: 'SQUARE', d2f: secondDerivative.square, input: Math.fround, err: () => 0 },
  { name: 'exp', fn: 'EXP', d2f: secondDerivative.exp, input: Math.fround, err: (x) => ulps(3 + 2 * Math.abs(x), Math.exp(x)) },
  { name: 'log', fn: 'LOG', d2f: secondDerivative.log, input: positive, err: (x) => ulps(4, secondDerivative.log(x)) },
  { name: 'sqrt', fn: 'SQRT', d2f: secondDerivative.sqrt, input: positive, err: (x) => ulps(7, secondDerivative.sqrt(x)) },
];

const secondCase = (op: SecondOp, shape: number[]): OpCase => ({
  op: `${op.name}_second`,
  name: `${op.name} second derivative [${shape}]`,
  make: (random) => ({
    inputs: [map(randomNd(random, shape), op.input), randomNd(random, shape), randomNd(random, shape)],
    gpu: ([x, g, gg]) => unarySecondDerivative(op.fn, x, g, gg),
    ref: ([x, g, gg]) => map(x, (v, i) => g.data[i] * gg.data[i] * op.d2f(v)),
    bounds: ([x, g, gg]) => ({
      forward: x.data.map((v, i) => {
        const gg2 = Math.abs(g.data[i] * gg.data[i]);
        return gg2 * op.err(v) + ulps(2, gg2 * op.d2f(v));
      }),
      grads: [],
    }),
  }),
});

export const UNARY_CASES: OpCase[] = [
  ...UNARY.flatMap((op) => SHAPES.map((shape) => unaryCase(op, shape))),
  ...SECOND.flatMap((op) => [[7], [2, 3, 13, 11], [1000, 257]].map((shape) => secondCase(op, shape))),
];
