// Shape-changing copies (shaders/copy_box.wgsl): zero padding, cropping, channel slicing and
// padding, channel concat and ::2 subsampling, with their gradients.
// Padding, cropping, channel padding and channel slicing are all one primitive, resizeBox: grow or
// shrink each axis by `before`/`after` elements (negative = cut), new elements zero. Its gradient
// is resizeBox with the amounts negated.
import { record } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import type { Tuning } from './tuning.ts';
import { FLAT_WG, contiguousStrides, empty, flatGrid, zeros } from './common.ts';

type Vec4 = [number, number, number, number];

const copyBoxKernel = (tuning: Tuning): KernelSpec => ({ op: 'copy_box', shader: 'copy_box', defines: { WG: FLAT_WG, RUN: tuning.flatRun } });

interface BoxCopy {
  extent: Vec4;
  dstOffset?: Vec4;
  dstStep?: Vec4;
  srcOffset?: Vec4;
  srcStep?: Vec4;
}

/** dst[dstOffset + i·dstStep] = src[srcOffset + i·srcStep] (0 outside src) for i in the box; src and dst viewed with the given rank-4 shapes. */
function copyBox(src: Tensor, srcShape: Vec4, dst: Tensor, dstShape: Vec4, box: BoxCopy): void {
  const { extent, dstOffset = [0, 0, 0, 0], dstStep = [1, 1, 1, 1], srcOffset = [0, 0, 0, 0], srcStep = [1, 1, 1, 1] } = box;
  const engine = src.engine;
  const size = extent.reduce((a, b) => a * b, 1);
  const dstStrides = contiguousStrides(dstShape);
  const dstBase = dstOffset.reduce((s, o, k) => s + o * dstStrides[k], 0);
  const { groups, groupsX } = flatGrid(engine, size, FLAT_WG, engine.tuning.flatRun);
  const u = new Uniforms()
    .u32(size, groupsX, extent[1], extent[2], extent[3], dstBase, ...dstStrides.map((s, k) => s * dstStep[k]))
    .i32(...srcOffset)
    .u32(...srcStep, ...srcShape, ...contiguousStrides(srcShape));
  engine.dispatch(copyBoxKernel(engine.tuning), [src, dst], u, groups);
}

function image4(op: string, x: Tensor): Vec4 {
  if (x.rank !== 4) throw new RangeError(`${op}: expected an [N, C, H, W] tensor, got [${x.shape}]`);
  return [...x.shape] as Vec4;
}

/** Channel ops accept any rank ≥ 2 with channels on axis 1: [N, C, ...rest] is viewed as [N, C, Π rest, 1]. */
function channels4(op: string, x: Tensor): Vec4 {
  if (x.rank < 2) throw new RangeError(`${op}: expected a tensor with channels on axis 1, got [${x.shape}]`);
  const [n, c, ...rest] = x.shape;
  return [n, c, rest.reduce((a, b) => a * b, 1), 1];
}

/**
 * Grows (positive) or cuts (negative) each axis of the rank-4 view by before[k] at the start and
 * after[k] at the end; grown elements are zero. `shape` is the result's shape in x's own rank.
 */
function resizeBox(op: string, x: Tensor, view: Vec4, before: Vec4, after: Vec4, shape: number[]): Tensor {
  const extent = view.map((d, k) => d + before[k] + after[k]) as Vec4;
  if (extent.some((d) => d < 0)) throw new RangeError(`${op}: cutting more than [${view}] holds`);
  const out = empty(x.engine, shape, op);
  copyBox(x, view, out, extent, { extent, srcOffset: before.map((b) => -b) as Vec4 });
  const negate = (v: Vec4) => v.map((a) => -a) as Vec4;
  return record(op, [x], out, (g) => [resizeBox(`${op}_backward`, g, extent, negate(before), negate(after), [...x.shape])]);
}

/** Zero padding of H (top, bottom) and W (left, right); negative amounts crop, as in F.pad. */
export function pad2d(x: Tensor, pads: { top?: number; bottom?: number; left?: number; right?: number }): Tensor {
  const view = image4('pad2d', x);
  const { top = 0, bottom = 0, left = 0, right = 0 } = pads;
  const [n, c, h, w] = view;
  return resizeBox('pad2d', x, view, [0, 0, top, left], [0, 0, bottom, right], [n, c, h + top + bottom, w + left + right]);
}

/** x[:, :, top : top + h, left : left + w]. */
export function crop2d(x: Tensor, top: number, left: number, h: number, w: number): Tensor {
  const view = image4('crop2d', x);
  const [n, c, H, W] = view;
  if (top < 0 || left < 0 || top + h > H || left + w > W) throw new RangeError(`crop2d: window ${h}×${w} at (${top}, ${left}) leaves [${view}]`);
  return resizeBox('crop2d', x, view, [0, 0, -top, -left], [0, 0, top + h - H, left + w - W], [n, c, h, w]);
}

/** Zero channels before and after the existing ones (ResNet option-A shortcut: padChannels(subsample2x(x), p, p)). */
export function padChannels(x: Tensor, before: number, after: number): Tensor {
  const view = channels4('padChannels', x);
  if (before < 0 || after < 0) throw new RangeError(`padChannels: negative padding ${before}, ${after}`);
  const shape = [...x.shape];
  shape[1] += before + after;
  return resizeBox('padChannels', x, view, [0, before, 0, 0], [0, after, 0, 0], shape);
}

/** x[:, start : start + count]. */
export function sliceChannels(x: Tensor, start: number, count: number): Tensor {
  const view = channels4('sliceChannels', x);
  const c = view[1];
  if (start < 0 || count < 0 || start + count > c) throw new RangeError(`sliceChannels: channels [${start}, ${start + count}) of ${c}`);
  const shape = [...x.shape];
  shape[1] = count;
  return resizeBox('sliceChannels', x, view, [0, -start, 0, 0], [0, start + count - c, 0, 0], shape);
}

/** Concatenation along axis 1; all tensors share every other axis. */
export function concatChannels(tensors: Tensor[]): Tensor {
  if (tensors.length === 0) throw new RangeError('concatChannels: no tensors');
  const views = tensors.map((t) => channels4('concatChannels', t));
  const [first] = tensors;
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d, k) => k !== 1 && d !== first.shape[k])) {
      throw new RangeError(`concatChannels: [${t.shape}] does not match [${first.shape}] outside axis 1`);
    }
  }
  const total = views.reduce((s, v) => s + v[1], 0);
  const shape = [...first.shape];
  shape[1] = total;
  const outView: Vec4 = [views[0][0], total, views[0][2], 1];
  const out = empty(first.engine, shape, 'concatChannels');
  const starts: number[] = [];
  let start = 0;
  tensors.forEach((t, i) => {
    starts.push(start);
    copyBox(t, views[i], out, outView, { extent: views[i], dstOffset: [0, start, 0, 0] });
    start += views[i][1];
  });
  return record('concatChannels', tensors, out, (g) => tensors.map((t, i) => (t.requiresGrad ? sliceChannels(g, starts[i], views[i][1]) : null)));
}

/** x[:, :, ::2, ::2] (output ⌈H/2⌉ × ⌈W/2⌉). */
export function subsample2x(x: Tensor): Tensor {
  const view = image4('subsample2x', x);
  const [n, c, h, w] = view;
  const extent: Vec4 = [n, c, Math.ceil(h / 2), Math.ceil(w / 2)];
  const out = empty(x.engine, extent, 'subsample2x');
  copyBox(x, view, out, extent, { extent, srcStep: [1, 1, 2, 2] });
  return record('subsample2x', [x], out, (g) => {
    const gx = zeros(x.engine, view);
    copyBox(g, extent, gx, view, { extent, dstStep: [1, 1, 2, 2] });
    return [gx];
  });
}

export const layoutKernels = (tuning: Tuning): KernelSpec[] => [copyBoxKernel(tuning)];
