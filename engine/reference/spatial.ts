// Float64 references for pooling, upsampling and the layout ops (pad, crop, channel slice/pad,
// concat, ::2 subsampling), forward and backward, on NCHW `Nd`s.
// Every layout op is a remap: each output element reads one input element or is zero. Its gradient
// is the remap's adjoint, scattering each output gradient back onto the element it read.
import { nd, type Nd } from './nd.ts';

type Coord = [number, number, number, number];
/** The input coordinate an output coordinate reads, or null for a zero. */
type SourceOf = (n: number, c: number, h: number, w: number) => Coord | null;

function inside(shape: number[], [n, c, h, w]: Coord): boolean {
  return n >= 0 && c >= 0 && h >= 0 && w >= 0 && n < shape[0] && c < shape[1] && h < shape[2] && w < shape[3];
}

function offset(shape: number[], [n, c, h, w]: Coord): number {
  return ((n * shape[1] + c) * shape[2] + h) * shape[3] + w;
}

function forEachCoord(shape: number[], fn: (coord: Coord, i: number) => void): void {
  let i = 0;
  for (let n = 0; n < shape[0]; n++) for (let c = 0; c < shape[1]; c++) for (let h = 0; h < shape[2]; h++) for (let w = 0; w < shape[3]; w++) fn([n, c, h, w], i++);
}

export function remap(x: Nd, outShape: number[], sourceOf: SourceOf): Nd {
  const out = nd(outShape);
  forEachCoord(outShape, (o, i) => {
    const s = sourceOf(...o);
    if (s && inside(x.shape, s)) out.data[i] = x.data[offset(x.shape, s)];
  });
  return out;
}

export function remapBackward(xShape: number[], g: Nd, sourceOf: SourceOf): Nd {
  const gx = nd(xShape);
  forEachCoord(g.shape, (o, i) => {
    const s = sourceOf(...o);
    if (s && inside(xShape, s)) gx.data[offset(xShape, s)] += g.data[i];
  });
  return gx;
}

/** A layout op as its output shape and source map, so forward and backward share one definition. */
export interface Remap {
  outShape: number[];
  sourceOf: SourceOf;
}

export const pad2d = ([N, C, H, W]: number[], top: number, bottom: number, left: number, right: number): Remap => ({
  outShape: [N, C, H + top + bottom, W + left + right],
  sourceOf: (n, c, h, w) => [n, c, h - top, w - left],
});

export const crop2d = ([N, C]: number[], top: number, left: number, h: number, w: number): Remap => ({
  outShape: [N, C, h, w],
  sourceOf: (n, c, y, x) => [n, c, y + top, x + left],
});

export const padChannels = ([N, C, H, W]: number[], before: number, after: number): Remap => ({
  outShape: [N, C + before + after, H, W],
  sourceOf: (n, c, h, w) => [n, c - before, h, w],
});

export const sliceChannels = ([N, , H, W]: number[], start: number, count: number): Remap => ({
  outShape: [N, count, H, W],
  sourceOf: (n, c, h, w) => [n, c + start, h, w],
});

export const subsample2x = ([N, C, H, W]: number[]): Remap => ({
  outShape: [N, C, Math.ceil(H / 2), Math.ceil(W / 2)],
  sourceOf: (n, c, h, w) => [n, c, 2 * h, 2 * w],
});

export const upsampleNearest2x = ([N, C, H, W]: number[]): Remap => ({
  outShape: [N, C, 2 * H, 2 * W],
  sourceOf: (n, c, h, w) => [n, c, Math.floor(h / 2), Math.floor(w / 2)],
});

export const apply = (x: Nd, r: Remap) => remap(x, r.outShape, r.sourceOf);
export const applyBackward = (xShape: number[], g: Nd, r: Remap) => remapBackward(xShape, g, r.sourceOf);

/** Sum of each input zero-padded into its channel range of the output. */
export function concatChannels(xs: Nd[]): Nd {
  const [N, , H, W] = xs[0].shape;
  const C = xs.reduce((s, x) => s + x.shape[1], 0);
  const out = nd([N, C, H, W]);
  let start = 0;
  for (const x of xs) {
    apply(x, padChannels(x.shape, start, C - start - x.shape[1])).data.forEach((v, i) => (out.data[i] += v));
    start += x.shape[1];
  }
  return out;
}

export function concatChannelsBackward(shapes: number[][], g: Nd): Nd[] {
  let start = 0;
  return shapes.map((shape) => {
    const gi = apply(g, sliceChannels(g.shape, start, shape[1]));
    start += shape[1];
    return gi;
  });
}

/** Visits each 2×2 window (stride 2, floor) with its output index and its four input offsets in row-major order. */
function forEachWindow(xShape: number[], fn: (i: number, offsets: number[]) => void): number[] {
  const [N, C, H, W] = xShape;
  const outShape = [N, C, Math.floor(H / 2), Math.floor(W / 2)];
  forEachCoord(outShape, ([n, c, h, w], i) => {
    fn(i, [[0, 0], [0, 1], [1, 0], [1, 1]].map(([dy, dx]) => offset(xShape, [n, c, 2 * h + dy, 2 * w + dx])));
  });
  return outShape;
}

function pool(x: Nd, reduce: (values: number[]) => number): Nd {
  const values: number[] = [];
  const outShape = forEachWindow(x.shape, (i, offsets) => (values[i] = reduce(offsets.map((o) => x.data[o]))));
  return nd(outShape, values);
}

export const avgPool2x2 = (x: Nd) => pool(x, (v) => (v[0] + v[1] + v[2] + v[3]) / 4);
export const maxPool2x2 = (x: Nd) => pool(x, (v) => Math.max(...v));
/** Each window's (1/β)·log Σ exp(β·x), shifted by its maximum (small-cnn.ts smoothMaxPool2x2). */
export const logSumExpPool2x2 = (x: Nd, beta: number) => pool(x, (v) => {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, e) => s + Math.exp(beta * (e - m)), 0)) / beta;
});

export function avgPool2x2Backward(xShape: number[], g: Nd): Nd {
  const gx = nd(xShape);
  forEachWindow(xShape, (i, offsets) => offsets.forEach((o) => (gx.data[o] += g.data[i] / 4)));
  return gx;
}

/** The gradient goes to the first maximum of each window (PyTorch's choice among ties). */
export function maxPool2x2Backward(x: Nd, g: Nd): Nd {
  const gx = nd(x.shape);
  forEachWindow(x.shape, (i, offsets) => {
    const values = offsets.map((o) => x.data[o]);
    gx.data[offsets[values.indexOf(Math.max(...values))]] += g.data[i];
  });
  return gx;
}

/** v at the first maximum of each of x's windows: maxPool2x2Backward's adjoint in g. */
export function maxPool2x2Gather(x: Nd, v: Nd): Nd {
  const values: number[] = [];
  const outShape = forEachWindow(x.shape, (i, offsets) => {
    const xs = offsets.map((o) => x.data[o]);
    values[i] = v.data[offsets[xs.indexOf(Math.max(...xs))]];
  });
  return nd(outShape, values);
}

/** Mean of each H×W plane: [N, C, H, W] → [N, C]. */
export function globalAvgPool(x: Nd): Nd {
  const [N, C, H, W] = x.shape;
  const out = nd([N, C]);
  x.data.forEach((v, i) => (out.data[Math.floor(i / (H * W))] += v / (H * W)));
  return out;
}

export function globalAvgPoolBackward(xShape: number[], g: Nd): Nd {
  const plane = xShape[2] * xShape[3];
  return nd(xShape, Array.from({ length: g.data.length * plane }, (_, i) => g.data[Math.floor(i / plane)] / plane));
}
