// Diffusion purification: diffuse the input to t*, run the reverse chain of a frozen ε-model back
// to 0 — unguided (DiffPure), guided toward the input's pixels (GDMP) or by an adversarially
// trained auxiliary classifier (AGDM) — and return images in [0, 1].
import { ddimCoefficients, ddpmCoefficients, stepSubset, type VarianceType } from '../diffusion/schedule.ts';
import { affine, clamp, diffusionStep, randomNormal, scale } from '../ops/index.ts';
import type { Classifier, Denoiser } from '../models/types.ts';
import type { Tensor } from '../tensor.ts';
import { AGDM_DEFAULTS, agdmGradient, agdmReference, gdmpGradient, type AgdmOptions } from './guidance.ts';

export type Method = 'diffpure' | 'gdmp' | 'agdm';

export interface PurifyOptions {
  method: Method;
  /** Diffusion depth: the input is noised with ᾱ[t* − 1] and t* reverse steps follow (DiffPure's convention). */
  tStar: number;
  /** Reverse steps; fewer than t* runs a DDIM (η) chain over an evenly spaced subset. */
  steps?: number;
  eta?: number;
  /** Guidance scale s. */
  scale?: number;
  /** 'constant': s; 'snr': s·sqrt((1 − ᾱ_t)/ᾱ_t), GDMP's schedule. */
  scaleSchedule?: 'constant' | 'snr';
  seed: number;
  /** Global index of the first image, so a split batch sees the same noise. */
  firstIndex?: number;
  /** Separates repeated purifications of the same images (majority vote). */
  repeat?: number;
  variance?: VarianceType;
  clipX0?: boolean;
  agdm?: Partial<AgdmOptions>;
  onStep?: (done: number, total: number) => void;
  /** Checked between steps: throw to stop (cancellation). */
  signal?: AbortSignal;
}

export const DEFAULT_TSTAR: Record<Method, number> = { diffpure: 100, gdmp: 100, agdm: 70 };

/** Noise streams: 0 diffuses the input, 1..T the reverse steps, T+1.. GDMP's re-diffused inputs. */
const STREAMS_PER_REPEAT = 4096;

export async function purify(denoiser: Denoiser, images: Tensor, opts: PurifyOptions, guide?: Classifier): Promise<Tensor> {
  const engine = images.engine;
  const [c, h, w] = denoiser.imageShape;
  if (images.rank !== 4 || images.shape[1] !== c || images.shape[2] !== h || images.shape[3] !== w) {
    throw new RangeError(`purify: ${denoiser.name} takes images [N, ${c}, ${h}, ${w}], got [${images.shape}]`);
  }
  const s = denoiser.schedule;
  if (!Number.isInteger(opts.tStar) || opts.tStar < 1 || opts.tStar > s.T) throw new RangeError(`t* must be an integer in [1, ${s.T}], got ${opts.tStar}`);
  if (opts.method === 'agdm' && !guide) throw new Error('agdm needs the guidance network c_φ');
  const n = images.shape[0];
  const steps = stepSubset(opts.tStar - 1, opts.steps ?? opts.tStar);
  const ddpm = steps.length === opts.tStar;
  const streamBase = (opts.repeat ?? 0) * STREAMS_PER_REPEAT;
  const noiseKey = (stream: number) => ({ seed: opts.seed, stream: streamBase + stream, firstRow: opts.firstIndex ?? 0 });
  // Model space: 'unit' keeps [0, 1]; 'symmetric' is 2x − 1. toUnit inverts it.
  const toModel = denoiser.dataRange === 'symmetric' ? { a: 2, b: -1 } : { a: 1, b: 0 };
  const toUnit = { a: 1 / toModel.a, b: -toModel.b / toModel.a };
  const clipX0 = opts.clipX0 ?? denoiser.dataRange === 'symmetric';
  const agdmOpts = { ...AGDM_DEFAULTS, ...opts.agdm };
  const scaleAt = (t: number) => (opts.scale ?? 0) * (opts.scaleSchedule === 'snr' ? Math.sqrt((1 - s.alphaBars[t]) / s.alphaBars[t]) : 1);

  const x0 = engine.keep(affine(images, toModel.a, toModel.b));
  const ref = opts.method === 'agdm' ? await agdmReference(guide!, images, agdmOpts) : null;
  const keepRef = () => ref && [ref.target, ref.labels].forEach((t) => engine.keep(t));
  keepRef();
  let x: Tensor;
  {
    const t0 = steps[0];
    const noise = randomNormal(engine, images.shape, noiseKey(0));
    x = engine.keep(diffusionStep(x0, noise, { s0inv: 0, s1: 0, A: 0, B: Math.sqrt(s.alphaBars[t0]), C: Math.sqrt(1 - s.alphaBars[t0]), G: 0, S: 0, clip: false }));
    noise.dispose();
  }
  try {
    for (let i = 0; i < steps.length; i++) {
      opts.signal?.throwIfAborted();
      const t = steps[i];
      const tPrev = i + 1 < steps.length ? steps[i + 1] : -1;
      const next = engine.scope(() => {
        const eps = denoiser.predictEps(x, new Array(n).fill(t));
        const sa = Math.sqrt(s.alphaBars[t]);
        const so = Math.sqrt(1 - s.alphaBars[t]);
        let A: number, B: number, C: number, variance: number, S: number;
        if (ddpm) {
          const k = ddpmCoefficients(s, t, opts.variance);
          ({ coefX0: A, coefXt: B } = k);
          C = 0;
          variance = k.variance;
          S = t > 0 ? Math.sqrt(k.variance) : 0;
        } else {
          const k = ddimCoefficients(s, t, tPrev, opts.eta ?? 0);
          A = k.sqrtAlphaBarPrev;
          B = 0;
          C = k.dirEps;
          variance = k.sigma * k.sigma;
          S = tPrev >= 0 ? k.sigma : 0;
        }
        let g: Tensor | undefined;
        if (opts.method === 'gdmp' && scaleAt(t) !== 0) {
          const rediffused = diffusionStep(x0, randomNormal(engine, images.shape, noiseKey(STREAMS_PER_REPEAT / 2 + t)), { s0inv: 0, s1: 0, A: 0, B: sa, C: so, G: 0, S: 0, clip: false });
          g = gdmpGradient(x, rediffused);
        } else if (opts.method === 'agdm' && scaleAt(t) !== 0) {
          // x̂₀ = (x − so·ε)/sa: slope 1/sa, offset −so/sa·ε, with ε held constant.
          g = agdmGradient(guide!, x, ref!, agdmOpts, toUnit, { slope: 1 / sa, offset: scale(eps, -so / sa) });
        }
        // DDIM has no Σ_t when η = 0; guide with the DDPM posterior variance of the same step then.
        const sigma2 = variance > 0 ? variance : ddpmCoefficients(s, t, 'fixedsmall').variance;
        const z = S > 0 ? randomNormal(engine, images.shape, noiseKey(1 + t)) : undefined;
        return diffusionStep(x, eps, { s0inv: 1 / sa, s1: so, A, B, C, G: scaleAt(t) * sigma2, S, clip: clipX0 }, g, z);
      });
      x.dispose();
      x = engine.keep(next);
      opts.onStep?.(i + 1, steps.length);
      // Let the event loop breathe between steps (progress, cancellation, other requests).
      await engine.sync();
    }
    return clamp(affine(x, toUnit.a, toUnit.b), 0, 1);
  } finally {
    x.dispose();
    x0.dispose();
    ref?.target.dispose();
    ref?.labels.dispose();
  }
}
