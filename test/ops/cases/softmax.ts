// softmax, log-softmax and scaled softmax over the last dim, inputs up to magnitude 500, and
// scaled dot-product attention (batched matmuls around the scaled softmax). Bounds: bounds.ts's
// softmax analysis; attention composes it with the matmul rule, the scores' error feeding the
// softmax and the softmax's relative error feeding both products.
import { scaledDotProductAttention } from '../../../engine/ops/attention.ts';
import { logSoftmax, scaledSoftmax, softmax } from '../../../engine/ops/softmax.ts';
import { matmul } from '../../../engine/reference/elementwise.ts';
import { map, nd, type Nd } from '../../../engine/reference/nd.ts';
import * as ref from '../../../engine/reference/norm.ts';
import { F32_TINY } from '../../helpers/error-bound.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { OpCase } from '../../helpers/op-case.ts';
import { SAFETY, absNd, logSoftmaxGradBound, plus, softmaxBound, softmaxGradBound, sumOf } from './bounds.ts';

/** Uniform in [−magnitude, magnitude], rounded to f32. */
const uniformNd = (random: () => number, shape: number[], magnitude: number) => map(nd(shape), () => Math.fround((2 * random() - 1) * magnitude));

const SHAPES = [[1], [7], [3, 5], [2, 3, 17], [4, 300], [2, 2, 3, 1000]];

function softmaxCase(log: boolean, shape: number[], magnitude: number, scale = 1): OpCase {
  const L = shape[shape.length - 1];
  const name = log ? 'logSoftmax' : scale === 1 ? 'softmax' : 'scaledSoftmax';
  return {
    op: name,
    name: `${name} [${shape}] |x| ≤ ${magnitude}${scale === 1 ? '' : ` scale ${scale}`}`,
    make: (random) => ({
      inputs: [uniformNd(random, shape, magnitude)],
      gpu: ([x]) => (log ? logSoftmax(x) : scale === 1 ? softmax(x) : scaledSoftmax(x, scale)),
      ref: ([x]) => (log ? ref.logSoftmax(x) : ref.softmax(x, scale)),
      refGrads: ([x], g) => [log ? ref.logSoftmaxBackward(ref.logSoftmax(x), g) : ref.softmaxBackward(ref.softmax(x, scale), g, scale)],
      bounds: ([x], { g }) => {
        const sm = softmaxBound(x.data, L, scale);
        return log
          ? { forward: sm.logAbs, grads: [logSoftmaxGradBound(sm, g.data, scale)] }
          : { forward: sm.y.map((y, i) => y * sm.rel[i]), grads: [softmaxGradBound(sm, g.data, scale)] };
      },
    }),
  };
}

/** Batched transpose of [B, M, N], for Pᵀ·g and dcᵀ·q. */
function tr(x: Nd): Nd {
  const [B, M, N] = x.shape;
  const out = nd([B, N, M]);
  for (let b = 0; b < B; b++) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) out.data[(b * N + j) * M + i] = x.data[(b * M + i) * N + j];
  return out;
}

/**
 * Scores c = q·kᵀ err by (D + 1)U·|q|·|k|ᵀ; P = softmax(s·c) then carries the relative error of
 * softmaxBound; out = P·v errs by |P·rel|·|v| + (S + 1)U·P·|v|. Backward: dv = Pᵀg, dP = g·vᵀ,
 * dc = softmax′ (softmaxGradBound with dP's error), dq = dc·k, dk = dcᵀ·q, each product adding its
 * own (terms + 1)U and carrying its inputs' errors through |·|.
 */
function attentionBounds(q: Nd, k: Nd, v: Nd, s: number, g: Nd) {
  const [, L, D] = q.shape, S = k.shape[1], Dv = v.shape[2];
  const c = matmul(q, k, false, true);
  const cErr = sumOf(matmul(absNd(q), absNd(k), false, true).data, D);
  const sm = softmaxBound(c.data, S, s, cErr);
  const P = nd(c.shape, sm.y), Perr = nd(c.shape, sm.y.map((y, i) => y * sm.rel[i] + F32_TINY));
  const [av, ag, ak, aq] = [v, g, k, q].map(absNd);
  const out = plus(matmul(Perr, av).data, sumOf(matmul(P, av).data, S));
  const dv = plus(matmul(Perr, ag, true, false).data, sumOf(matmul(P, ag, true, false).data, L));
  const dP = matmul(g, v, false, true);
  const dPErr = sumOf(matmul(ag, av, false, true).data, Dv);
  const dc = ref.softmaxBackward(P, dP, s);
  const dcErr = nd(c.shape, softmaxGradBound(sm, dP.data, s, dPErr));
  const adc = absNd(dc);
  const dq = plus(matmul(dcErr, ak).data, sumOf(matmul(adc, ak).data, S));
  const dk = plus(matmul(tr(dcErr), aq).data, sumOf(matmul(tr(adc), aq).data, L));
  const safe = (a: Float64Array) => a.map((e) => SAFETY * e);
  return { forward: safe(out), grads: [safe(dq), safe(dk), safe(dv)] };
}

const ATTENTION: { q: number[]; kv: number[]; dv?: number }[] = [
  { q: [1, 1, 1], kv: [1, 1, 1] }, { q: [2, 5, 3], kv: [2, 5, 3] }, { q: [3, 17, 8], kv: [3, 17, 8] },
  { q: [2, 7, 4], kv: [2, 11, 4], dv: 6 }, { q: [1, 64, 32], kv: [1, 64, 32] }, { q: [2, 49, 40], kv: [2, 49, 40] }, { q: [2, 3, 4], kv: [2, 3, 4] },
];

function attentionCase(c: (typeof ATTENTION)[number], scale: number | undefined): OpCase {
  const s = scale ?? 1 / Math.sqrt(c.q[2]);
  const vShape = [...c.kv.slice(0, 2), c.dv ?? c.kv[2]];
  return {
    op: 'attention',
    name: `attention q[${c.q}] k[${c.kv}] v[${vShape}] scale ${s.toFixed(3)}`,
    make: (random) => ({
      inputs: [randomNd(random, c.q), randomNd(random, c.kv), randomNd(random, vShape)],
      gpu: ([q, k, v]) => scaledDotProductAttention(q, k, v, scale),
      ref: ([q, k, v]) => ref.attention(q, k, v, s),
      refGrads: ([q, k, v], g) => Object.values(ref.attentionBackward(q, k, v, s, g)),
      bounds: ([q, k, v], { g }) => attentionBounds(q, k, v, s, g),
    }),
  };
}

export const SOFTMAX_CASES: OpCase[] = [
  ...[false, true].flatMap((log) => SHAPES.flatMap((shape) => [3, 80, 500].map((m) => softmaxCase(log, shape, m)))),
  ...[0.125, -2].map((scale) => softmaxCase(false, [3, 9, 33], 4, scale)),
];

export const ATTENTION_CASES: OpCase[] = ATTENTION.flatMap((c) => [undefined, 0.7].map((scale) => attentionCase(c, scale)));
