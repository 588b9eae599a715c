// Broadcasting elementwise add, sub, mul, div, min, max (shaders/binary.wgsl) and their gradients,
// built from these same recorded ops so a tape can differentiate them again.
import { recordDifferentiable } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import type { Tuning } from './tuning.ts';
import { FLAT_WG, contiguousStrides, empty, flatGrid, pad4, zeros } from './common.ts';
import { sumTo } from './reduce.ts';
import { scale, square } from './unary.ts';

export const BINARY_FNS = ['ADD', 'SUB', 'MUL', 'DIV', 'MIN', 'MAX'] as const;
export type BinaryFn = (typeof BINARY_FNS)[number];

export function binaryKernel(tuning: Tuning, fn: BinaryFn, sameShape: boolean): KernelSpec {
  const defines: Record<string, boolean | number> = { WG: FLAT_WG, RUN: tuning.flatRun, SAME_SHAPE: sameShape };
  for (const name of BINARY_FNS) defines[name] = name === fn;
  return { op: fn.toLowerCase(), shader: 'binary', defines };
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new RangeError(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` read as if broadcast to rank-4 `out`: 0 along broadcast axes. */
function broadcastStrides(shape: readonly number[], out4: number[]): number[] {
  const s4 = pad4(shape);
  const strides = contiguousStrides(s4);
  return s4.map((d, i) => (d === 1 && out4[i] !== 1 ? 0 : strides[i]));
}

function runBinary(fn: BinaryFn, a: Tensor, b: Tensor): Tensor {
  const engine = a.engine;
  const shape = broadcastShape(a.shape, b.shape);
  const out = empty(engine, shape, fn.toLowerCase());
  const o4 = pad4(shape);
  const { groups, groupsX } = flatGrid(engine, out.size, FLAT_WG, engine.tuning.flatRun);
  const u = new Uniforms().u32(out.size, groupsX, o4[1], o4[2], o4[3], ...broadcastStrides(a.shape, o4), ...broadcastStrides(b.shape, o4));
  const sameShape = a.size === out.size && b.size === out.size;
  engine.dispatch(binaryKernel(engine.tuning, fn, sameShape), [a, b, out], u, groups);
  return out;
}

export function add(a: Tensor, b: Tensor): Tensor {
  const out = runBinary('ADD', a, b);
  return recordDifferentiable('add', [a, b], out, (g) => [a.requiresGrad ? sumTo(g, a.shape) : null, b.requiresGrad ? sumTo(g, b.shape) : null]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const out = runBinary('SUB', a, b);
  return recordDifferentiable('sub', [a, b], out, (g) => [a.requiresGrad ? sumTo(g, a.shape) : null, b.requiresGrad ? sumTo(scale(g, -1), b.shape) : null]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const out = runBinary('MUL', a, b);
  return recordDifferentiable('mul', [a, b], out, (g) => [a.requiresGrad ? sumTo(mul(g, b), a.shape) : null, b.requiresGrad ? sumTo(mul(g, a), b.shape) : null]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = runBinary('DIV', a, b);
  return recordDifferentiable('div', [a, b], out, (g) => [
    a.requiresGrad ? sumTo(div(g, b), a.shape) : null,
    // d(a/b)/db = −a/b²
    b.requiresGrad ? sumTo(scale(div(mul(g, a), square(b)), -1), b.shape) : null,
  ]);
}

/** Elementwise minimum / maximum; no gradient (used for projections in attacks). */
export const minimum = (a: Tensor, b: Tensor): Tensor => runBinary('MIN', a, b);
export const maximum = (a: Tensor, b: Tensor): Tensor => runBinary('MAX', a, b);

/** Materialises x broadcast to `shape` (used by reduction gradients); its gradient sums back. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const out = runBinary('ADD', x, zeros(x.engine, shape));
  return recordDifferentiable('broadcastTo', [x], out, (g) => [sumTo(g, x.shape)]);
}

export const binaryKernels = (tuning: Tuning): KernelSpec[] => BINARY_FNS.flatMap((fn) => [binaryKernel(tuning, fn, false), binaryKernel(tuning, fn, true)]);
