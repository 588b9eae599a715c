// Group norm (± fused SiLU), layer norm over (C, H, W) and inference batch norm, forward and
// gradients w.r.t. x, γ, β, on the UNet and ResNet shapes plus odd ones.
import { batchNormInference, groupNorm, layerNormCHW } from '../../../engine/ops/norm.ts';
import { map, type Nd } from '../../../engine/reference/nd.ts';
import * as ref from '../../../engine/reference/norm.ts';
import { U } from '../../helpers/error-bound.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { Bounds, OpCase, RefResults } from '../../helpers/op-case.ts';
import { SAFETY, activationBackward, activationForward } from './bounds.ts';

const EPS = 1e-5;

/** γ around 1 and β around 0, like trained parameters, but random so every index matters. */
const randomGamma = (random: () => number, shape: number[]) => map(randomNd(random, shape, 0.3), (v) => Math.fround(1 + v));
const positive = (random: () => number, shape: number[]) => map(randomNd(random, shape), (v) => Math.fround(0.2 + v * v));

/** Rows of `rowLength` normalised together; element i uses parameter param(i). */
interface RowLayout {
  rowLength: number;
  param: (i: number) => number;
}

/**
 * norm.wgsl per row: shift s = first value, offset o = mean(x − s), c = (x − s) − o, var = mean c²,
 * rstd = 1/√(var + eps), y = act(c·(rstd·γ) + β). First-order errors, each sum of n terms ≤ nU·Σ|terms|:
 *   Δo ≤ (n + 1)U·mean|x − s|,  Δc_i ≤ U|x_i − s| + Δo + U|c_i|,
 *   Δvar ≤ 2·mean(|c|Δc) + (n + 2)U·var,  δrstd ≤ ½Δvar/(var + eps) + 3U,
 *   Δx̂_i ≤ Δc_i·rstd + |x̂_i|(δrstd + U),  Δpre_i ≤ |γ|Δx̂_i + 2U(|x̂_i γ| + |β|).
 * Backward: dx̂ = dy·γ, A = Σdx̂, B = Σdx̂·x̂ over the row, dx = rstd·(dx̂ − A/n − x̂·B/n); the
 * errors of dy (SiLU′), x̂ and rstd propagate through each term; dγ and dβ sum K = elements per parameter.
 */
function rowNormBounds(x: Nd, gamma: Nd, beta: Nd, layout: RowLayout, silu: boolean, r: RefResults): Bounds {
  const n = layout.rowLength, size = x.data.length, P = gamma.data.length, K = size / P;
  const pre = new Float64Array(size), preErr = new Float64Array(size), xhat = new Float64Array(size), xhatErr = new Float64Array(size);
  const rstdOf = new Float64Array(size / n), rstdRel = new Float64Array(size / n);
  for (let row = 0; row < size / n; row++) {
    const base = row * n, s = x.data[base];
    let mean = 0, dev = 0;
    for (let i = base; i < base + n; i++) {
      mean += x.data[i] / n;
      dev += Math.abs(x.data[i] - s) / n;
    }
    const dOffset = (n + 1) * U * dev;
    let variance = 0, dVar = 0;
    const dc = new Float64Array(n);
    for (let i = base; i < base + n; i++) {
      const c = x.data[i] - mean;
      dc[i - base] = U * Math.abs(x.data[i] - s) + dOffset + U * Math.abs(c);
      variance += (c * c) / n;
      dVar += (2 * Math.abs(c) * dc[i - base]) / n;
    }
    dVar += (n + 2) * U * variance;
    const rstd = 1 / Math.sqrt(variance + EPS), dRstd = (0.5 * dVar) / (variance + EPS) + 3 * U;
    rstdOf[row] = rstd;
    rstdRel[row] = dRstd;
    for (let i = base; i < base + n; i++) {
      const p = layout.param(i), gm = gamma.data[p], bt = beta.data[p];
      xhat[i] = (x.data[i] - mean) * rstd;
      xhatErr[i] = dc[i - base] * rstd + Math.abs(xhat[i]) * (dRstd + U);
      pre[i] = xhat[i] * gm + bt;
      preErr[i] = Math.abs(gm) * xhatErr[i] + 2 * U * (Math.abs(xhat[i] * gm) + Math.abs(bt));
    }
  }
  const act = silu ? 'silu' : 'none';
  const forward = activationForward(act, pre, preErr).map((v) => SAFETY * v);
  const { gPre: dy, gPreErr: dyErr } = activationBackward(act, pre, preErr, r.g);
  const dx = new Float64Array(size), dGamma = new Float64Array(P), dBeta = new Float64Array(P);
  for (let row = 0; row < size / n; row++) {
    const base = row * n, rstd = rstdOf[row];
    let A = 0, B = 0, dA = 0, dB = 0;
    for (let i = base; i < base + n; i++) {
      const gm = Math.abs(gamma.data[layout.param(i)]), dxh = dy.data[i] * gamma.data[layout.param(i)];
      A += dxh;
      B += dxh * xhat[i];
      dA += n * U * Math.abs(dxh) + gm * dyErr[i];
      dB += (n + 1) * U * Math.abs(dxh * xhat[i]) + gm * dyErr[i] * Math.abs(xhat[i]) + Math.abs(dxh) * xhatErr[i];
    }
    for (let i = base; i < base + n; i++) {
      const gm = Math.abs(gamma.data[layout.param(i)]), dxh = Math.abs(dy.data[i]) * gm;
      const terms = dxh + Math.abs(A) / n + Math.abs(xhat[i] * B) / n;
      dx[i] = SAFETY * rstd * (gm * dyErr[i] + dA / n + (Math.abs(xhat[i]) * dB) / n + (xhatErr[i] * Math.abs(B)) / n + terms * (rstdRel[row] + 4 * U));
    }
  }
  for (let i = 0; i < size; i++) {
    const p = layout.param(i);
    dGamma[p] += SAFETY * ((K + 1) * U * Math.abs(dy.data[i] * xhat[i]) + Math.abs(dy.data[i]) * xhatErr[i] + dyErr[i] * Math.abs(xhat[i]));
    dBeta[p] += SAFETY * (K * U * Math.abs(dy.data[i]) + dyErr[i]);
  }
  return { forward, grads: [dx, dGamma, dBeta] };
}

const GROUP_SHAPES: [number[], number][] = [
  [[1, 6, 5, 5], 3], [[3, 6, 5, 5], 3], [[2, 64, 8, 8], 32], [[1, 128, 4, 4], 32], [[2, 128, 3, 5], 32], [[2, 40, 7, 7], 8], [[4, 12], 3], [[2, 6, 3, 3], 3],
];

function groupNormCase(shape: number[], groups: number, silu: boolean): OpCase {
  const spatial = shape.slice(2).reduce((a, b) => a * b, 1), sample = shape.slice(1).reduce((a, b) => a * b, 1);
  const layout: RowLayout = { rowLength: sample / groups, param: (i) => Math.floor((i % sample) / spatial) };
  return {
    op: silu ? 'groupNorm+silu' : 'groupNorm',
    name: `groupNorm${silu ? '+silu' : ''} [${shape}] g${groups}`,
    make: (random) => ({
      inputs: [randomNd(random, shape, 2), randomGamma(random, [shape[1]]), randomNd(random, [shape[1]], 0.5)],
      gpu: ([x, g, b]) => groupNorm(x, groups, g, b, { silu }),
      ref: ([x, g, b]) => ref.groupNorm(x, groups, g, b, EPS, silu),
      refGrads: ([x, g, b], w) => Object.values(ref.groupNormBackward(x, groups, g, b, w, EPS, silu)),
      bounds: ([x, g, b], r) => rowNormBounds(x, g, b, layout, silu, r),
    }),
  };
}

function layerNormCase(shape: number[]): OpCase {
  const sample = shape.slice(1).reduce((a, b) => a * b, 1);
  return {
    op: 'layerNormCHW',
    name: `layerNormCHW [${shape}]`,
    make: (random) => ({
      inputs: [randomNd(random, shape, 3), randomGamma(random, shape.slice(1)), randomNd(random, shape.slice(1), 0.5)],
      gpu: ([x, g, b]) => layerNormCHW(x, g, b),
      ref: ([x, g, b]) => ref.layerNorm(x, g, b),
      refGrads: ([x, g, b], w) => Object.values(ref.layerNormBackward(x, g, b, w)),
      bounds: ([x, g, b], r) => rowNormBounds(x, g, b, { rowLength: sample, param: (i) => i % sample }, false, r),
    }),
  };
}

/**
 * channel_affine.wgsl folds scale = γ·rstd (rstd: sqrt and division, ≤ 6U) and shift = β − mean·scale,
 * then y = x·scale + shift: that sum cancels, so its error is relative to |x·scale| + |shift|. dx = g·scale;
 * dγ sums K = N·H·W terms g·(x − mean)/√(var + eps), each ~5 roundings; dβ sums K terms g.
 */
function batchNormBounds(x: Nd, mean: Nd, variance: Nd, gamma: Nd, beta: Nd, g: Nd): Bounds {
  const C = x.shape[1], spatial = x.data.length / (x.shape[0] * C), K = x.data.length / C;
  const channel = (i: number) => Math.floor(i / spatial) % C;
  const sc = gamma.data.map((gm, c) => gm / Math.sqrt(variance.data[c] + EPS));
  const shift = beta.data.map((b, c) => b - mean.data[c] * sc[c]);
  const dScale = sc.map((v) => 7 * U * Math.abs(v));
  const dShift = shift.map((v, c) => U * Math.abs(v) + Math.abs(mean.data[c]) * dScale[c] + U * Math.abs(mean.data[c] * sc[c]));
  const dGamma = new Float64Array(C), dBeta = new Float64Array(C);
  g.data.forEach((v, i) => {
    const c = channel(i);
    dGamma[c] += SAFETY * (K + 6) * U * Math.abs((v * (x.data[i] - mean.data[c]) * sc[c]) / gamma.data[c]);
    dBeta[c] += SAFETY * K * U * Math.abs(v);
  });
  return {
    forward: x.data.map((v, i) => SAFETY * (Math.abs(v) * dScale[channel(i)] + dShift[channel(i)] + 2 * U * (Math.abs(v * sc[channel(i)]) + Math.abs(shift[channel(i)])))),
    grads: [g.data.map((v, i) => SAFETY * Math.abs(v) * (dScale[channel(i)] + U * Math.abs(sc[channel(i)]))), dGamma, dBeta],
  };
}

function batchNormCase(shape: number[]): OpCase {
  const c = shape[1];
  return {
    op: 'batchNormInference',
    name: `batchNormInference [${shape}]`,
    make: (random) => ({
      inputs: [randomNd(random, shape, 2), randomGamma(random, [c]), randomNd(random, [c], 0.5), randomNd(random, [c]), positive(random, [c])],
      wrt: [0, 1, 2],
      gpu: ([x, g, b, m, v]) => batchNormInference(x, m, v, g, b),
      ref: ([x, g, b, m, v]) => ref.batchNormInference(x, m, v, g, b),
      refGrads: ([x, g, , m, v], w) => Object.values(ref.batchNormInferenceBackward(x, m, v, g, w)),
      bounds: ([x, g, b, m, v], r) => batchNormBounds(x, m, v, g, b, r.g),
    }),
  };
}

export const NORM_CASES: OpCase[] = [
  ...GROUP_SHAPES.flatMap(([shape, groups]) => [false, true].map((silu) => groupNormCase(shape, groups, silu))),
  ...[[1, 10, 28, 28], [3, 20, 14, 14], [2, 40, 7, 7], [1, 80, 3, 3], [5, 80, 3, 3], [2, 5, 1, 1], [2, 3, 2, 2]].map(layerNormCase),
  ...[[1, 6, 5, 5], [3, 10, 7, 7], [2, 16, 1, 1], [5, 7], [2, 64, 9, 9], [2, 6, 3, 3]].map(batchNormCase),
];

