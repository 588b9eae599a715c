// Error bounds of correct f32 kernels, element by element: first-order rounding analysis, with U the
// unit roundoff. The rule under all of them: a sum of K terms in f32, in any order, errs by at most
// (K − 1)·U·Σ|terms|, and each rounded operation adds U times its result. So a bound needs the
// magnitude of the terms behind each output, which the float64 reference gives: for multilinear ops
// it is the reference itself applied to |inputs|. Transcendentals use the WGSL accuracy limits
// (exp: 3 + 2|x| ULP; log: 3 ULP, or 2⁻²¹ absolute in [0.5, 2]; division 2.5 ULP). Where the
// analysis has several small terms, SAFETY covers second-order terms and a driver's extra ulp.
// Bounds are worst cases, so no seed can fail a correct kernel; typical errors use 1-10 % of them.
import { F32_TINY, U } from '../../helpers/error-bound.ts';
import { map, nd, type Nd } from '../../../engine/reference/nd.ts';
import { unary } from '../../../engine/reference/elementwise.ts';

export const SAFETY = 2;

export const absNd = (x: Nd): Nd => map(x, Math.abs);
export const absAll = (xs: Nd[]): Nd[] => xs.map(absNd);
export const abs = (a: Float64Array): Float64Array => a.map(Math.abs);

/** Elementwise a + b + … of equally long arrays. */
export function plus(...arrays: Float64Array[]): Float64Array {
  return arrays[0].map((_, i) => arrays.reduce((s, a) => s + a[i], 0));
}

/** Outputs that are sums of K rounded terms of total magnitude `magnitude` (Σ|terms|): (K + 1)·U·magnitude. */
export const sumOf = (magnitude: Float64Array, K: number): Float64Array => magnitude.map((m) => (K + 1) * U * m);

/** Results of `ops` roundings each (or exact copies with `ops` = 1: one ulp of slack, ≤ 2U relative). */
export const rounded = (magnitude: Float64Array, ops: number): Float64Array => magnitude.map((m) => 2 * ops * U * Math.abs(m));

export type Activation = 'none' | 'relu' | 'silu';

export const activate = (act: Activation, v: number): number => (act === 'none' ? v : unary[act].f(v));
export const activateNd = (act: Activation, x: Nd): Nd => map(x, (v) => activate(act, v));

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
/** Relative error of the GPU's silu(z) = z·σ(z): exp(−z) (3 + 2|z| ULP), 1 + e, the division, the product. */
const siluRel = (z: number) => SAFETY * (6 + 2 * Math.abs(z)) * U;

/** Bound on act(pre) given the bound on pre: relu is 1-Lipschitz and exact; |silu′| ≤ 1.1. */
export function activationForward(act: Activation, pre: Float64Array, preBound: Float64Array): Float64Array {
  if (act === 'none' || act === 'relu') return preBound;
  return pre.map((z, i) => 1.1 * preBound[i] + siluRel(z) * Math.abs(unary.silu.f(z)));
}

/** The reference gradient entering the pre-activation: g·act′(pre). */
export function activationGrad(act: Activation, pre: Float64Array, g: Nd): Nd {
  return act === 'none' ? g : nd(g.shape, g.data.map((v, i) => v * unary[act].df(pre[i])));
}

/**
 * The gradient entering the pre-activation, g·act′(pre), and its error bound. relu: where |pre| is
 * within its bound the GPU may see the other sign, so the whole g_i is at stake there. silu: |silu″| ≤ ½,
 * and silu′ = σ·(1 + z·(1 − σ)) is rounded with the magnitude of both of its terms.
 */
export function activationBackward(act: Activation, pre: Float64Array, preBound: Float64Array, g: Nd): { gPre: Nd; gPreErr: Float64Array } {
  const gPre = activationGrad(act, pre, g);
  if (act === 'none') return { gPre, gPreErr: new Float64Array(pre.length) };
  if (act === 'relu') return { gPre, gPreErr: pre.map((z, i) => (Math.abs(z) <= preBound[i] ? Math.abs(g.data[i]) : 0)) };
  return {
    gPre,
    gPreErr: pre.map((z, i) => {
      const s = sigmoid(z);
      return Math.abs(g.data[i]) * (0.5 * preBound[i] + (siluRel(z) + 2 * U) * (s + Math.abs(z) * s * (1 - s)));
    }),
  };
}

/** Row-wise softmax quantities; all arrays are per element of the [rows, L] input. */
export interface SoftmaxBound {
  y: Float64Array;
  /** Relative error bound of the GPU's y. */
  rel: Float64Array;
  /** Absolute error bound of the GPU's log-softmax. */
  logAbs: Float64Array;
  L: number;
}

/**
 * softmax(s·c) over rows of length L, c carrying an absolute error cErr. The kernel rounds t = s·c
 * (U|t|), z = t − max t (U|z|; the max shifts every z alike and cancels), exp(z) (3 + 2|z| ULP), the
 * row sum (L − 1 terms) and the division: rel_i = δe_i + δS + U with δe_i = U(|t_i| + 3|z_i| + 3) +
 * |s|·cErr_i and δS = (L − 1)U + Σ y_j δe_j. log-softmax z − log S adds U|r| and the log's own error.
 */
export function softmaxBound(c: Float64Array, L: number, s: number, cErr?: Float64Array): SoftmaxBound {
  const y = new Float64Array(c.length), rel = new Float64Array(c.length), logAbs = new Float64Array(c.length);
  for (let r = 0; r < c.length / L; r++) {
    const row = Array.from(c.subarray(r * L, (r + 1) * L), (v) => s * v);
    const peak = Math.max(...row);
    const total = row.reduce((acc, t) => acc + Math.exp(t - peak), 0);
    const logTotal = Math.log(total);
    const de = row.map((t, j) => U * (Math.abs(t) + 3 * Math.abs(t - peak) + 3) + Math.abs(s) * (cErr?.[r * L + j] ?? 0));
    let dS = (L - 1) * U;
    row.forEach((t, j) => (dS += (Math.exp(t - peak) / total) * de[j]));
    row.forEach((t, j) => {
      const i = r * L + j;
      y[i] = Math.exp(t - peak) / total;
      rel[i] = SAFETY * (de[j] + dS + U);
      const logY = t - peak - logTotal;
      const dz = U * (Math.abs(t) + Math.abs(t - peak)) + Math.abs(s) * (cErr?.[i] ?? 0);
      logAbs[i] = SAFETY * (dz + dS + U * (Math.abs(logY) + 3 * Math.abs(logTotal) + 8));
    });
  }
  return { y, rel, logAbs, L };
}

/**
 * Softmax backward dx = s·y⊙(g − Σ g·y) with the GPU's y (relative error `sm.rel`) and g carrying
 * gErr: ΔD ≤ L·U·Σ|g|y + Σ y(|g|·rel + gErr), then two roundings of (g − D)·y and one of s.
 */
export function softmaxGradBound(sm: SoftmaxBound, g: Float64Array, s: number, gErr?: Float64Array): Float64Array {
  const { y, rel, L } = sm;
  const out = new Float64Array(y.length);
  for (let r = 0; r < y.length / L; r++) {
    let D = 0, dD = 0;
    for (let i = r * L; i < (r + 1) * L; i++) {
      D += g[i] * y[i];
      dD += y[i] * (Math.abs(g[i]) * (L * U + rel[i]) + (gErr?.[i] ?? 0));
    }
    for (let i = r * L; i < (r + 1) * L; i++) {
      // A y_i near the f32 underflow threshold may have been flushed to 0: F32_TINY·|g_i − D| more.
      const flushed = F32_TINY * (Math.abs(g[i]) + Math.abs(D));
      out[i] = SAFETY * Math.abs(s) * (y[i] * ((Math.abs(g[i]) + Math.abs(D)) * (rel[i] + 3 * U) + (gErr?.[i] ?? 0) + dD) + flushed);
    }
  }
  return out;
}

/**
 * Log-softmax backward dx = s·(g − p⊙Σg), p = exp(r) from the GPU's r (error logAbs, then exp's
 * 3 + 2|r| ULP); Σg over L terms.
 */
export function logSoftmaxGradBound(sm: SoftmaxBound, g: Float64Array, s: number): Float64Array {
  const { y, logAbs, L } = sm;
  const out = new Float64Array(y.length);
  for (let r = 0; r < y.length / L; r++) {
    let G = 0, gAbs = 0;
    for (let i = r * L; i < (r + 1) * L; i++) {
      G += g[i];
      gAbs += Math.abs(g[i]);
    }
    for (let i = r * L; i < (r + 1) * L; i++) {
      const dp = logAbs[i] + U * (3 + 2 * Math.abs(Math.log(y[i] || Number.MIN_VALUE)));
      const flushed = F32_TINY * Math.abs(G);
      out[i] = SAFETY * Math.abs(s) * (y[i] * (Math.abs(G) * dp + L * U * gAbs) + U * (Math.abs(g[i]) + 2 * y[i] * Math.abs(G)) + flushed);
    }
  }
  return out;
}
