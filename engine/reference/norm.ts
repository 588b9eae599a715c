// Float64 references for group norm, layer norm, inference batch norm, softmax, log-softmax and
// scaled dot-product attention, forward and backward.
import { matmul, unary } from './elementwise.ts';
import { nd, type Nd } from './nd.ts';

/** x [N, ...] normalised per (sample, group) of `groups` equal slices; parameter of element i is (i mod sample) / paramStride. */
interface RowNorm {
  groups: number;
  paramStride: number;
  eps: number;
  silu: boolean;
}

function normalisedRows(x: Nd, groups: number, eps: number): { xhat: Float64Array; rstd: Float64Array; rowLength: number } {
  const rowLength = x.data.length / x.shape[0] / groups;
  const rows = x.data.length / rowLength;
  const xhat = new Float64Array(x.data.length);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = x.data.subarray(r * rowLength, (r + 1) * rowLength);
    const mean = row.reduce((s, v) => s + v, 0) / rowLength;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / rowLength;
    rstd[r] = 1 / Math.sqrt(variance + eps);
    row.forEach((v, m) => (xhat[r * rowLength + m] = (v - mean) * rstd[r]));
  }
  return { xhat, rstd, rowLength };
}

function rowNorm(x: Nd, gamma: Nd, beta: Nd, o: RowNorm): { pre: Float64Array; out: Nd; xhat: Float64Array; rstd: Float64Array; rowLength: number } {
  const { xhat, rstd, rowLength } = normalisedRows(x, o.groups, o.eps);
  const sample = x.data.length / x.shape[0];
  const param = (i: number) => Math.floor((i % sample) / o.paramStride);
  const pre = xhat.map((v, i) => v * gamma.data[param(i)] + beta.data[param(i)]);
  const out = nd(x.shape, o.silu ? pre.map(unary.silu.f) : pre);
  return { pre, out, xhat, rstd, rowLength };
}

function rowNormBackward(x: Nd, gamma: Nd, beta: Nd, o: RowNorm, g: Nd): { dx: Nd; dGamma: Nd; dBeta: Nd } {
  const { pre, xhat, rstd, rowLength } = rowNorm(x, gamma, beta, o);
  const sample = x.data.length / x.shape[0];
  const param = (i: number) => Math.floor((i % sample) / o.paramStride);
  const dy = o.silu ? g.data.map((v, i) => v * unary.silu.df(pre[i])) : g.data;
  const dGamma = nd(gamma.shape);
  const dBeta = nd(beta.shape);
  const dxhat = dy.map((v, i) => v * gamma.data[param(i)]);
  dy.forEach((v, i) => {
    dGamma.data[param(i)] += v * xhat[i];
    dBeta.data[param(i)] += v;
  });
  const dx = nd(x.shape);
  for (let r = 0; r < rstd.length; r++) {
    let sum = 0, dot = 0;
    for (let i = r * rowLength; i < (r + 1) * rowLength; i++) {
      sum += dxhat[i];
      dot += dxhat[i] * xhat[i];
    }
    for (let i = r * rowLength; i < (r + 1) * rowLength; i++) dx.data[i] = rstd[r] * (dxhat[i] - sum / rowLength - (xhat[i] * dot) / rowLength);
  }
  return { dx, dGamma, dBeta };
}

const spatialOf = (x: Nd) => x.data.length / (x.shape[0] * x.shape[1]);
const groupLayout = (x: Nd, groups: number, eps: number, silu: boolean): RowNorm => ({ groups, paramStride: spatialOf(x), eps, silu });
const layerLayout = (eps: number): RowNorm => ({ groups: 1, paramStride: 1, eps, silu: false });

export const groupNorm = (x: Nd, groups: number, gamma: Nd, beta: Nd, eps = 1e-5, silu = false): Nd => rowNorm(x, gamma, beta, groupLayout(x, groups, eps, silu)).out;
export const groupNormBackward = (x: Nd, groups: number, gamma: Nd, beta: Nd, g: Nd, eps = 1e-5, silu = false) =>
  rowNormBackward(x, gamma, beta, groupLayout(x, groups, eps, silu), g);

export const layerNorm = (x: Nd, gamma: Nd, beta: Nd, eps = 1e-5): Nd => rowNorm(x, gamma, beta, layerLayout(eps)).out;
export const layerNormBackward = (x: Nd, gamma: Nd, beta: Nd, g: Nd, eps = 1e-5) => rowNormBackward(x, gamma, beta, layerLayout(eps), g);

export function batchNormInference(x: Nd, mean: Nd, variance: Nd, gamma: Nd, beta: Nd, eps = 1e-5): Nd {
  const channels = x.shape[1], spatial = spatialOf(x);
  return nd(x.shape, x.data.map((v, i) => {
    const c = Math.floor(i / spatial) % channels;
    return ((v - mean.data[c]) / Math.sqrt(variance.data[c] + eps)) * gamma.data[c] + beta.data[c];
  }));
}

export function batchNormInferenceBackward(x: Nd, mean: Nd, variance: Nd, gamma: Nd, g: Nd, eps = 1e-5): { dx: Nd; dGamma: Nd; dBeta: Nd } {
  const channels = x.shape[1], spatial = spatialOf(x);
  const dx = nd(x.shape), dGamma = nd([channels]), dBeta = nd([channels]);
  g.data.forEach((v, i) => {
    const c = Math.floor(i / spatial) % channels;
    const rstd = 1 / Math.sqrt(variance.data[c] + eps);
    dx.data[i] = v * gamma.data[c] * rstd;
    dGamma.data[c] += v * (x.data[i] - mean.data[c]) * rstd;
    dBeta.data[c] += v;
  });
  return { dx, dGamma, dBeta };
}

/** Applies f to each last-dimension row of x (a subarray) and collects the rows it returns. */
function byRows(x: Nd, f: (row: Float64Array, r: number) => ArrayLike<number>): Nd {
  const length = x.shape[x.shape.length - 1];
  const out = nd(x.shape);
  for (let r = 0; r < x.data.length / length; r++) out.data.set(f(x.data.subarray(r * length, (r + 1) * length), r), r * length);
  return out;
}

export function logSoftmax(x: Nd, scale = 1): Nd {
  return byRows(x, (row) => {
    const peak = Math.max(...row.map((v) => scale * v));
    const logTotal = Math.log(row.reduce((s, v) => s + Math.exp(scale * v - peak), 0));
    return row.map((v) => scale * v - peak - logTotal);
  });
}

export const softmax = (x: Nd, scale = 1): Nd => nd(x.shape, logSoftmax(x, scale).data.map(Math.exp));

/** Gradient w.r.t. x of softmax(scale·x) given its output y and the output gradient g. */
export function softmaxBackward(y: Nd, g: Nd, scale = 1): Nd {
  const length = y.shape[y.shape.length - 1];
  return byRows(g, (gRow, r) => {
    const yRow = y.data.subarray(r * length, (r + 1) * length);
    const dot = gRow.reduce((s, v, i) => s + v * yRow[i], 0);
    return gRow.map((v, i) => scale * yRow[i] * (v - dot));
  });
}

/** Gradient w.r.t. x of logSoftmax(scale·x) given its output y and the output gradient g. */
export function logSoftmaxBackward(y: Nd, g: Nd, scale = 1): Nd {
  const length = y.shape[y.shape.length - 1];
  return byRows(g, (gRow, r) => {
    const total = gRow.reduce((s, v) => s + v, 0);
    return gRow.map((v, i) => scale * (v - Math.exp(y.data[r * length + i]) * total));
  });
}

export const attention = (q: Nd, k: Nd, v: Nd, scale: number): Nd => matmul(softmax(matmul(q, k, false, true), scale), v);

/** Gradients of attention w.r.t. q, k, v given the output gradient g [B, L, Dv]. */
export function attentionBackward(q: Nd, k: Nd, v: Nd, scale: number, g: Nd): { dq: Nd; dk: Nd; dv: Nd } {
  const weights = softmax(matmul(q, k, false, true), scale);
  const dScores = softmaxBackward(weights, matmul(g, v, false, true), scale);
  return { dq: matmul(dScores, k), dk: matmul(dScores, q, true, false), dv: matmul(weights, g, true, false) };
}
