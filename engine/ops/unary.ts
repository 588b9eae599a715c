// Elementwise unary ops (shaders/unary.wgsl): relu, silu, sign, clamp, affine a·x+b, square, exp,
// log, abs, sqrt, each with its derivative kernel.
import { record } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import type { Tuning } from './tuning.ts';
import { FLAT_WG, empty, flatGrid } from './common.ts';

export const UNARY_FNS = ['RELU', 'SILU', 'SIGN', 'CLAMP', 'AFFINE', 'SQUARE', 'EXP', 'LOG', 'ABS', 'SQRT'] as const;
export type UnaryFn = (typeof UNARY_FNS)[number];

export function unaryKernel(tuning: Tuning, fn: UnaryFn, backward: boolean): KernelSpec {
  const defines: Record<string, boolean | number> = { WG: FLAT_WG, RUN: tuning.flatRun, BACKWARD: backward };
  for (const name of UNARY_FNS) defines[name] = name === fn;
  return { op: `${fn.toLowerCase()}${backward ? '_backward' : ''}`, shader: 'unary', defines };
}

function runUnary(fn: UnaryFn, x: Tensor, a = 0, b = 0): Tensor {
  const engine = x.engine;
  const y = empty(engine, x.shape, fn.toLowerCase());
  const { groups, groupsX } = flatGrid(engine, x.size, FLAT_WG, engine.tuning.flatRun);
  engine.dispatch(unaryKernel(engine.tuning, fn, false), [x, y], new Uniforms().u32(x.size, groupsX).f32(a, b), groups);
  return record(fn.toLowerCase(), [x], y, (g) => [unaryBackward(fn, x, g, a, b)]);
}

/** gradOut · f'(x), as its own kernel so the forward output need not be kept. */
export function unaryBackward(fn: UnaryFn, x: Tensor, gradOut: Tensor, a = 0, b = 0): Tensor {
  const engine = x.engine;
  const gx = empty(engine, x.shape, `${fn.toLowerCase()}_backward`);
  const { groups, groupsX } = flatGrid(engine, x.size, FLAT_WG, engine.tuning.flatRun);
  engine.dispatch(unaryKernel(engine.tuning, fn, true), [x, gradOut, gx], new Uniforms().u32(x.size, groupsX).f32(a, b), groups);
  return gx;
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

export const unaryKernels = (tuning: Tuning): KernelSpec[] => UNARY_FNS.flatMap((fn) => [unaryKernel(tuning, fn, false), unaryKernel(tuning, fn, true)]);
