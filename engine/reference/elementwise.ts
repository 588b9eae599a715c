// Float64 references for unary, broadcasting binary, reductions and matmul, forward and backward.
import { map, nd, strides, type Nd } from './nd.ts';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

export const unary = {
  relu: { f: (v: number) => Math.max(v, 0), df: (v: number) => (v > 0 ? 1 : 0) },
  silu: { f: (v: number) => v * sigmoid(v), df: (v: number) => sigmoid(v) * (1 + v * (1 - sigmoid(v))) },
  sign: { f: (v: number) => Math.sign(v), df: () => 0 },
  square: { f: (v: number) => v * v, df: (v: number) => 2 * v },
  exp: { f: Math.exp, df: Math.exp },
  log: { f: Math.log, df: (v: number) => 1 / v },
  abs: { f: Math.abs, df: (v: number) => Math.sign(v) },
  sqrt: { f: Math.sqrt, df: (v: number) => 0.5 / Math.sqrt(v) },
};

/** f'' of the functions whose second derivative is not zero almost everywhere (the unary kernel's SECOND pass). */
export const secondDerivative = {
  silu: (v: number) => sigmoid(v) * (1 - sigmoid(v)) * (2 + v * (1 - 2 * sigmoid(v))),
  square: () => 2,
  exp: Math.exp,
  log: (v: number) => -1 / (v * v),
  sqrt: (v: number) => -0.25 / (v * Math.sqrt(v)),
};

export const clamp = (x: Nd, lo: number, hi: number) => map(x, (v) => Math.min(Math.max(v, lo), hi));
export const clampBackward = (x: Nd, g: Nd, lo: number, hi: number) => map(g, (v, i) => (x.data[i] >= lo && x.data[i] <= hi ? v : 0));

export function broadcastShape(a: number[], b: number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new RangeError(`no broadcast of [${a}] and [${b}]`);
    return Math.max(da, db);
  });
}

/** Index into `shape` of the element that output index `i` (of `outShape`) broadcasts from. */
function sourceIndex(i: number, outShape: number[], shape: number[]): number {
  const os = strides(outShape);
  const ss = strides(shape);
  const lead = outShape.length - shape.length;
  let idx = 0;
  for (let k = 0; k < shape.length; k++) {
    const coord = Math.floor(i / os[k + lead]) % outShape[k + lead];
    idx += (shape[k] === 1 ? 0 : coord) * ss[k];
  }
  return idx;
}

export function binary(a: Nd, b: Nd, f: (x: number, y: number) => number): Nd {
  const shape = broadcastShape(a.shape, b.shape);
  const out = nd(shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = f(a.data[sourceIndex(i, shape, a.shape)], b.data[sourceIndex(i, shape, b.shape)]);
  return out;
}

/** Sums g (broadcast shape) back to `shape`. */
export function sumTo(g: Nd, shape: number[]): Nd {
  const out = nd(shape);
  for (let i = 0; i < g.data.length; i++) out.data[sourceIndex(i, g.shape, shape)] += g.data[i];
  return out;
}

export function sum(x: Nd, axes: number[], keepDims: boolean): Nd {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = sumTo(x, kept);
  return keepDims ? out : nd(x.shape.filter((_, i) => !axes.includes(i)), out.data);
}

/** C[b] = op(A[b])·op(B[b]); rank-2 operands broadcast over the batch. */
export function matmul(a: Nd, b: Nd, transA = false, transB = false): Nd {
  const [ba, ra, ca] = a.shape.length === 3 ? a.shape : [1, ...a.shape];
  const [bb, rb, cb] = b.shape.length === 3 ? b.shape : [1, ...b.shape];
  const M = transA ? ca : ra, K = transA ? ra : ca, N = transB ? rb : cb;
  const batch = Math.max(ba, bb);
  const out = nd(a.shape.length === 3 || b.shape.length === 3 ? [batch, M, N] : [M, N]);
  for (let t = 0; t < batch; t++) {
    const ao = ba === 1 ? 0 : t * ra * ca, bo = bb === 1 ? 0 : t * rb * cb;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a.data[ao + (transA ? k * ca + m : m * ca + k)];
          const bv = b.data[bo + (transB ? n * cb + k : k * cb + n)];
          s += av * bv;
        }
        out.data[(t * M + m) * N + n] = s;
      }
  }
  return out;
}
