// The reverse chain a purification runs, precomputed from its options in float64: which steps,
// each step's coefficients (DDPM or DDIM), guidance scale and noise keys. purify() executes it;
// the full-gradient attack re-executes it step by step under autograd, so whatever both must draw
// identically (the noise streams, GDMP's x′_t) is defined here once.
import { modelSpace, type AffineMap } from '../diffusion/model-space.ts';
import { ddimCoefficients, ddpmCoefficients, stepSubset } from '../diffusion/schedule.ts';
import type { Denoiser } from '../models/types.ts';
import type { StepCoefficients } from '../ops/diffusion-step.ts';
import { diffusionStep, randomNormal } from '../ops/index.ts';
import type { NoiseKey } from '../ops/random.ts';
import type { Tensor } from '../tensor.ts';
import { PURIFY_DEFAULTS } from './defaults.ts';
import { AGDM_DEFAULTS, type AgdmOptions, type GdmpDistance } from './guidance.ts';
import type { Method, PurifyOptions } from './purifier.ts';

/** Noise layout: stream 0 diffuses the input, 1 + t is step t's z, half + t GDMP's x′_t. */
export const STREAMS_PER_REPEAT = 4096;

export interface ChainStep {
  t: number;
  sqrtAlphaBar: number;
  sqrtOneMinusAlphaBar: number;
  coefficients: StepCoefficients;
  /** Whether the step adds guidance (a non-zero scale). */
  guided: boolean;
  /** Whether the step adds fresh noise z. */
  noisy: boolean;
}

/** The reverse chain purify() runs for these options, step by step, with its coefficients. */
export interface ChainPlan {
  method: Method;
  /** x_T = B·x₀ + C·ε from the model-space input x₀ (B = 0, C = 1 from pure noise). */
  diffuse: StepCoefficients;
  steps: ChainStep[];
  /** Model space ↔ [0, 1] images, as a·x + b. */
  toModel: AffineMap;
  toUnit: AffineMap;
  agdm: AgdmOptions;
  gdmpDistance: GdmpDistance;
  key(stream: number): NoiseKey;
}

export function chainPlan(denoiser: Denoiser, opts: PurifyOptions): ChainPlan {
  const s = denoiser.schedule;
  if (!Number.isInteger(opts.tStar) || opts.tStar < 1 || opts.tStar > s.T) throw new RangeError(`t* must be an integer in [1, ${s.T}], got ${opts.tStar}`);
  const ts = stepSubset(opts.tStar - 1, opts.steps ?? opts.tStar);
  const ddpm = ts.length === opts.tStar;
  const clip = opts.clipX0 ?? denoiser.dataRange === 'symmetric';
  const scale = opts.scale ?? PURIFY_DEFAULTS.methods[opts.method].scale;
  const scaleAt = (t: number) => scale * (opts.scaleSchedule === 'snr' ? Math.sqrt((1 - s.alphaBars[t]) / s.alphaBars[t]) : 1);
  const steps = ts.map((t, i): ChainStep => {
    const tPrev = i + 1 < ts.length ? ts[i + 1] : -1;
    const sa = Math.sqrt(s.alphaBars[t]);
    const so = Math.sqrt(1 - s.alphaBars[t]);
    let A: number, B: number, C: number, variance: number, S: number;
    if (ddpm) {
      const k = ddpmCoefficients(s, t, opts.variance);
      ({ coefX0: A, coefXt: B, variance } = k);
      C = 0;
      S = t > 0 ? Math.sqrt(k.variance) : 0;
    } else {
      const k = ddimCoefficients(s, t, tPrev, opts.eta ?? 0);
      A = k.sqrtAlphaBarPrev;
      B = 0;
      C = k.dirEps;
      variance = k.sigma * k.sigma;
      S = tPrev >= 0 ? k.sigma : 0;
    }
    const sigma2 = variance > 0 ? variance : ddpmCoefficients(s, t, 'fixedsmall').variance;
    const guided = opts.method !== 'diffpure' && scaleAt(t) !== 0;
    return { t, sqrtAlphaBar: sa, sqrtOneMinusAlphaBar: so, coefficients: { s0inv: 1 / sa, s1: so, A, B, C, G: scaleAt(t) * sigma2, S, clip }, guided, noisy: S > 0 };
  });
  const t0 = ts[0];
  const { toModel, toUnit } = modelSpace(denoiser);
  const base = (opts.repeat ?? 0) * STREAMS_PER_REPEAT;
  return {
    method: opts.method,
    diffuse: { s0inv: 0, s1: 0, A: 0, B: opts.fromNoise ? 0 : Math.sqrt(s.alphaBars[t0]), C: opts.fromNoise ? 1 : Math.sqrt(1 - s.alphaBars[t0]), G: 0, S: 0, clip: false },
    steps,
    toModel,
    toUnit,
    agdm: { ...AGDM_DEFAULTS, ...opts.agdm },
    gdmpDistance: opts.gdmpDistance ?? 'mse',
    key: (stream) => ({ seed: opts.seed, stream: base + stream, firstRow: opts.firstIndex ?? 0 }),
  };
}

/** GDMP's x′_t: the model-space input x₀ freshly diffused to the step's t, with that step's own noise stream. */
export function rediffusedInput(plan: ChainPlan, step: ChainStep, x0: Tensor): Tensor {
  const noise = randomNormal(x0.engine, x0.shape, plan.key(STREAMS_PER_REPEAT / 2 + step.t));
  return diffusionStep(x0, noise, { ...plan.diffuse, B: step.sqrtAlphaBar, C: step.sqrtOneMinusAlphaBar });
}
