// Sums and means over axes (shaders/reduce_sum.wgsl), and sumTo(), which reduces a broadcast
// gradient back to an operand's shape. Their gradients broadcast back (recorded, so a tape can
// differentiate them again).
import { recordDifferentiable } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { FLAT_WG, contiguousStrides, empty, flatGrid, pad4 } from './common.ts';
import { broadcastTo } from './binary.ts';
import { reshape } from './shape.ts';
import { scale } from './unary.ts';

export const reduceKernel: KernelSpec = { op: 'reduce_sum', shader: 'reduce_sum', defines: { WG: FLAT_WG } };

/** Sums x (rank ≤ 4) down to `outShape`, which has x's rank with 1 on every reduced axis. */
function reduceToKeepDims(x: Tensor, outShape: number[], scaleBy: number): Tensor {
  const engine = x.engine;
  const xs = pad4(x.shape);
  const os = pad4(outShape);
  const strides = contiguousStrides(xs);
  const extents = xs.map((d, i) => (os[i] === 1 && d !== 1 ? d : 1));
  const out = empty(engine, outShape, 'reduce_sum');
  const { groups, groupsX } = flatGrid(engine, out.size);
  const u = new Uniforms().u32(out.size, groupsX, os[1], os[2], os[3], ...strides, ...extents).f32(scaleBy);
  engine.dispatch(reduceKernel, [x, out], u, groups);
  return out;
}

function normaliseAxes(rank: number, axes: number[] | undefined): number[] {
  const all = axes ?? [...Array(rank).keys()];
  return [...new Set(all.map((a) => (a < 0 ? a + rank : a)))].map((a) => {
    if (a < 0 || a >= rank) throw new RangeError(`axis ${a} out of range for rank ${rank}`);
    return a;
  });
}

function reduce(x: Tensor, axes: number[] | undefined, keepDims: boolean, mean: boolean): Tensor {
  const ax = normaliseAxes(x.rank, axes);
  const keptShape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  const scaleBy = mean ? 1 / count : 1;
  const kept = reduceToKeepDims(x, keptShape, scaleBy);
  const finalShape = keepDims ? keptShape : x.shape.filter((_, i) => !ax.includes(i));
  const out = keepDims ? kept : reshapeOwned(kept, finalShape);
  return recordDifferentiable(mean ? 'mean' : 'sum', [x], out, (g) => {
    const gb = broadcastTo(reshape(g, keptShape), x.shape);
    return [scaleBy === 1 ? gb : scale(gb, scaleBy)];
  });
}

function reshapeOwned(t: Tensor, shape: number[]): Tensor {
  const v = t.view(shape);
  t.dispose();
  return v;
}

export const sum = (x: Tensor, axes?: number[], keepDims = false) => reduce(x, axes, keepDims, false);
export const mean = (x: Tensor, axes?: number[], keepDims = false) => reduce(x, axes, keepDims, true);

/** Sums a gradient of broadcast shape `g.shape` down to `shape` (NumPy broadcasting rules). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const aligned = [...Array(lead).fill(1), ...shape];
  const kept = reduceToKeepDims(g, aligned, 1);
  return recordDifferentiable('sumTo', [g], reshapeOwned(kept, [...shape]), (gg) => [broadcastTo(gg, g.shape)]);
}
