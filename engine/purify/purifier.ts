// Diffusion purification: diffuse the input to t*, run the reverse chain of a frozen ε-model back
// to 0 — unguided (DiffPure), guided toward the input (GDMP, by pixel MSE or SSIM to a re-diffused
// copy) or by an adversarially trained auxiliary classifier (AGDM) — and return images in [0, 1].
// GDMP offers both of its paper's distances because they pull differently: MSE penalises every
// pixel's difference alike, SSIM compares local means, contrasts and correlations, so it weighs a
// change by how much it alters the input's local structure.
import type { VarianceType } from '../diffusion/schedule.ts';
import { affine, clamp, diffusionStep, randomNormal, scale } from '../ops/index.ts';
import type { Classifier, Denoiser } from '../models/types.ts';
import type { Tensor } from '../tensor.ts';
import { chainPlan, rediffusedInput, type ChainPlan, type ChainStep } from './chain-plan.ts';
import { agdmGradient, agdmReference, gdmpGradient, type AgdmOptions, type AgdmReference, type GdmpDistance } from './guidance.ts';

export type Method = 'diffpure' | 'gdmp' | 'agdm';

export interface PurifyOptions {
  method: Method;
  /** Diffusion depth: the input is noised with ᾱ[t* − 1] and t* reverse steps follow (DiffPure's convention). */
  tStar: number;
  /**
   * Start from x ~ N(0, I) instead of the diffused input, which then only gives the shape:
   * unconditional sampling (Ho et al. 2020, Algorithm 2) with t* = T.
   */
  fromNoise?: boolean;
  /** Reverse steps; fewer than t* runs a DDIM (η) chain over an evenly spaced subset. */
  steps?: number;
  eta?: number;
  /** Guidance scale s (default: the method's, engine/purify/defaults.ts). */
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
  /** GDMP's distance to the re-diffused input: 'mse' (default) or 'ssim'. */
  gdmpDistance?: GdmpDistance;
  onStep?: (done: number, total: number) => void;
  /** Checked between steps: throw to stop (cancellation). */
  signal?: AbortSignal;
}

/** A step's guidance g at x_t (undefined where the step is unguided); `eps` is ε̂(x_t), x₀ the model-space input. */
export function stepGuidance(plan: ChainPlan, step: ChainStep, x: Tensor, x0: Tensor, eps: Tensor, guide?: Classifier, ref?: AgdmReference | null): Tensor | undefined {
  if (!step.guided) return undefined;
  if (plan.method === 'gdmp') return gdmpGradient(x, rediffusedInput(plan, step, x0), plan.gdmpDistance);
  // x̂₀ = (x − so·ε)/sa: slope 1/sa, offset −so/sa·ε, with ε held constant.
  const { sqrtAlphaBar: sa, sqrtOneMinusAlphaBar: so } = step;
  return agdmGradient(guide!, x, ref!, plan.agdm, plan.toUnit, { slope: 1 / sa, offset: scale(eps, -so / sa) });
}

/** Step `i` of the plan from x_t, given ε̂(x_t) and the step's guidance g (undefined where unguided). */
export function reverseStep(plan: ChainPlan, i: number, x: Tensor, eps: Tensor, g: Tensor | undefined): Tensor {
  const step = plan.steps[i];
  const z = step.noisy ? randomNormal(x.engine, x.shape, plan.key(1 + step.t)) : undefined;
  return diffusionStep(x, eps, step.coefficients, g, z);
}

/** One run of the reverse chain. Owns its tensors: dispose(). */
export interface ChainRun {
  plan: ChainPlan;
  /** The model-space input x₀. */
  x0: Tensor;
  /** AGDM's reference c_φ(x′) and labels ŷ (null for the other methods). */
  ref: AgdmReference | null;
  /** The input x_t of every step, when kept (else empty). */
  states: Tensor[];
  /** Every step's guidance where held (the step's entry is undefined elsewhere). */
  guidance: (Tensor | undefined)[];
  /** The chain's last state, before mapping back to [0, 1]. */
  final: Tensor;
  dispose(): void;
}

export interface ChainKeep {
  /** Keep every step's input x_t (an attack's backward pass re-runs each step from it). */
  states?: boolean;
  /** Keep the plan's guidance tensors (a backward pass that holds g constant). */
  guidance?: (plan: ChainPlan) => boolean;
}

/**
 * The reverse chain, the one loop behind purify() and the attacks' traced chain: diffuse to t*
 * with the plan's noise, then each step ε̂, guidance, update; keeps what `keep` asks for.
 */
export async function runChain(denoiser: Denoiser, images: Tensor, opts: PurifyOptions, guide?: Classifier, keep: ChainKeep = {}): Promise<ChainRun> {
  const engine = images.engine;
  const [c, h, w] = denoiser.imageShape;
  if (images.rank !== 4 || images.shape[1] !== c || images.shape[2] !== h || images.shape[3] !== w) {
    throw new RangeError(`purify: ${denoiser.name} takes images [N, ${c}, ${h}, ${w}], got [${images.shape}]`);
  }
  if (opts.method === 'agdm' && !guide) throw new Error('agdm needs the guidance network c_φ');
  const plan = chainPlan(denoiser, opts);
  const holdGuidance = keep.guidance?.(plan) ?? false;
  const n = images.shape[0];
  const owned: Tensor[] = [];
  const states: Tensor[] = [];
  const guidance: (Tensor | undefined)[] = [];
  let ref: AgdmReference | null = null;
  let x: Tensor | undefined;
  try {
    const x0 = engine.keep(affine(images, plan.toModel.a, plan.toModel.b));
    owned.push(x0);
    if (plan.method === 'agdm') {
      ref = await agdmReference(guide!, images, plan.agdm);
      owned.push(engine.keep(ref.target), engine.keep(ref.labels));
    }
    x = engine.keep(engine.scope(() => diffusionStep(x0, randomNormal(engine, images.shape, plan.key(0)), plan.diffuse)));
    for (const [i, step] of plan.steps.entries()) {
      opts.signal?.throwIfAborted();
      const { next, g } = engine.scope(() => {
        const eps = denoiser.predictEps(x!, new Array(n).fill(step.t));
        const g = stepGuidance(plan, step, x!, x0, eps, guide, ref);
        return { next: reverseStep(plan, i, x!, eps, g), g: holdGuidance ? g : undefined };
      });
      if (g) owned.push(engine.keep(g));
      guidance.push(g);
      if (keep.states) {
        states.push(x);
        owned.push(x);
      } else {
        x.dispose();
      }
      x = engine.keep(next);
      opts.onStep?.(i + 1, plan.steps.length);
      // Let the event loop breathe between steps (progress, cancellation, other requests).
      await engine.sync();
    }
    const final = x;
    owned.push(final);
    return { plan, x0, ref, states, guidance, final, dispose: () => owned.forEach((t) => t.dispose()) };
  } catch (err) {
    if (x && !owned.includes(x)) x.dispose();
    owned.forEach((t) => t.dispose());
    throw err;
  }
}

/** The purified images in [0, 1]: clamp(toUnit(final state)) of one chain run. */
export const purifiedImages = (run: ChainRun): Tensor => clamp(affine(run.final, run.plan.toUnit.a, run.plan.toUnit.b), 0, 1);

export async function purify(denoiser: Denoiser, images: Tensor, opts: PurifyOptions, guide?: Classifier): Promise<Tensor> {
  const run = await runChain(denoiser, images, opts, guide);
  try {
    return purifiedImages(run);
  } finally {
    run.dispose();
  }
}
