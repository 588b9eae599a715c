// Elementwise unary ops (shaders/unary.wgsl): relu, silu, sign, clamp, affine a·x+b, square, exp,
// log, abs, sqrt, each with its derivative kernel, and the second derivative of the smooth ones
// (higher-order autograd: the derivative kernel is itself a recorded op).
import { record, recordDifferentiable } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import type { Tuning } from './tuning.ts';
import { FLAT_WG, empty, flatGrid } from './common.ts';

export const UNARY_FNS = ['RELU', 'SILU', 'SIGN', 'CLAMP', 'AFFINE', 'SQUARE', 'EXP', 'LOG', 'ABS', 'SQRT'] as const;
export type UnaryFn = (typeof UNARY_FNS)[number];
/** The functions whose f'' is not zero almost everywhere (the rest are piecewise linear). */
export const CURVED_FNS = ['SILU', 'SQUARE', 'EXP', 'LOG', 'SQRT'] as const satisfies readonly UnaryFn[];
const isCurved = (fn: UnaryFn) => (CURVED_FNS as readonly UnaryFn[]).includes(fn);

export type UnaryPass = 'forward' | 'backward' | 'second';

export function unaryKernel(tuning: Tuning, fn: UnaryFn, pass: UnaryPass): KernelSpec {
  const defines: Record<string, boolean | number> = { WG: FLAT_WG, RUN: tuning.flatRun, BACKWARD: pass === 'backward', SECOND: pass === 'second' };
  for (const name of UNARY_FNS) defines[name] = name === fn;
  return { op: `${fn.toLowerCase()}${pass === 'forward' ? '' : `_${pass}`}`, shader: 'unary', defines };
}

function launch(fn: UnaryFn, pass: UnaryPass, inputs: Tensor[], a: number, b: number): Tensor {
  const engine = inputs[0].engine;
  const size = inputs[0].size;
  const out = empty(engine, inputs[0].shape, `${fn.toLowerCase()}${pass === 'forward' ? '' : `_${pass}`}`);
  const { groups, groupsX } = flatGrid(engine, size, FLAT_WG, engine.tuning.flatRun);
  engine.dispatch(unaryKernel(engine.tuning, fn, pass), [...inputs, out], new Uniforms().u32(size, groupsX).f32(a, b), groups);
  return out;
}

function runUnary(fn: UnaryFn, x: Tensor, a = 0, b = 0): Tensor {
  return recordDifferentiable(fn.toLowerCase(), [x], launch(fn, 'forward', [x], a, b), (g) => [unaryBackward(fn, x, g, a, b)]);
}

/**
 * gradOut · f'(x), as its own kernel so the forward output need not be kept. Recorded, so a tape
 * can differentiate it: in gradOut by itself, in x by f'' (zero almost everywhere for the piecewise
 * linear functions; a kernel for the curved ones, whose backward is first order only).
 */
export function unaryBackward(fn: UnaryFn, x: Tensor, gradOut: Tensor, a = 0, b = 0): Tensor {
  const gx = launch(fn, 'backward', [x, gradOut], a, b);
  const name = `${fn.toLowerCase()}_backward`;
  if (!isCurved(fn)) return recordDifferentiable(name, [x, gradOut], gx, (gg) => [null, unaryBackward(fn, x, gg, a, b)]);
  return record(name, [x, gradOut], gx, (gg) => [unarySecondDerivative(fn, x, gradOut, gg), unaryBackward(fn, x, gg, a, b)]);
}

/** gradOut · gradOut2 · f''(x) for a curved fn (no autograd: the third derivative is not provided). */
export function unarySecondDerivative(fn: UnaryFn, x: Tensor, gradOut: Tensor, gradOut2: Tensor): Tensor {
  if (!isCurved(fn)) throw new RangeError(`unarySecondDerivative: ${fn} has no second-derivative kernel (f'' = 0 almost everywhere)`);
  return launch(fn, 'second', [x, gradOut, gradOut2], 0, 0);
}

export const relu = (x: Tensor) => runUnary('RELU', x);
export const silu = (x: Tensor) => runUnary('SILU', x);
/** sign(x); its gradient is zero (attacks use it on gradients, never differentiate through it). */
export const sign = (x: Tensor) => runUnary('SIGN', x);
export const clamp = (x: Tensor, lo: number, hi: number) => runUnary('CLAMP', x, lo, hi);
/** a·x + b. */
export const affine = (x: Tensor, a: number, b = 0) => runUnary('AFFINE', x, a, b);
export const scale = (x: Tensor, a: number) => runUnary('AFFINE', x, a, 0);
export const square = (x: Tensor) => runUnary('SQUARE', x);
export const exp = (x: Tensor) => runUnary('EXP', x);
export const log = (x: Tensor) => runUnary('LOG', x);
export const abs = (x: Tensor) => runUnary('ABS', x);
export const sqrt = (x: Tensor) => runUnary('SQRT', x);

export const unaryKernels = (tuning: Tuning): KernelSpec[] => [
  ...UNARY_FNS.flatMap((fn) => [unaryKernel(tuning, fn, 'forward'), unaryKernel(tuning, fn, 'backward')]),
  ...CURVED_FNS.map((fn) => unaryKernel(tuning, fn, 'second')),
];
