// What an attack sees of its target: the class logits under one noise draw (all a black-box attack
// may use) and one draw's loss gradient as a chosen estimator computes it. A pipeline — a
// classifier, bare or behind a purifier — is one target; the sanity-check tests feed masked
// stand-ins (stop-gradient, quantiser, uncontrolled noise) through the same interface, so the checks
// are tested on exactly the code path the evaluation uses.
import type { Classifier } from '../models/types.ts';
import type { Tensor } from '../tensor.ts';
import { bpdaSample } from './bpda.ts';
import type { SampleGradient } from './eot.ts';
import { fullGradientSample } from './full-gradient.ts';
import { classifierGradient, type LogitLoss } from './objectives.ts';
import { pipelineLogits, type DefendedPipeline, type NoiseDraw, type Pipeline } from '../purify/defended.ts';

/**
 * Gradient estimators through a purifier: the full chain's gradient; BPDA (identity backward); or
 * smooth BPDA, the full gradient of the chain with AGDM's c_φ swapped for its smooth surrogate
 * (ReLU → silu(β·x)/β, 2×2 max pool → (1/β)·log Σ exp(β·x), β = SMOOTH_BETA), which has no
 * piecewise-constant ∇c_φ to shatter on: with max pooling kept, ∇c_φ (so the guided chain itself)
 * jumps wherever a window's argmax switches.
 */
export type Estimator = 'full' | 'bpda' | 'smooth';

/** The smooth surrogate's β: within 0.028 of ReLU and 0.14 of max pooling per unit activation, curvature still ≤ β/4. */
export const SMOOTH_BETA = 10;

/** The pipeline with c_φ replaced by its smooth surrogate (smooth BPDA's forward and backward). */
export function smoothSurrogate(d: DefendedPipeline, beta = SMOOTH_BETA): DefendedPipeline {
  const guide = d.defense.guide;
  if (!guide) throw new RangeError('smooth BPDA smooths AGDM\'s guidance network: run it against agdm, whose pipeline has one');
  if (!guide.smoothed) throw new RangeError(`smooth BPDA: the guidance network ${guide.name} has no smooth surrogate (only the project's CNNs define one)`);
  return { ...d, defense: { ...d.defense, guide: guide.smoothed(beta) } };
}

export interface AttackTarget {
  imageShape: [number, number, number];
  classes: number;
  /** Whether the output depends on the noise draw; attacks average EOT samples only then. */
  randomised: boolean;
  /** AGDM's guidance network c_φ, when the target has one (the ŷ-hijack aims at it). */
  guide?: Classifier;
  /** [N, K] logits of the images under one draw. */
  logits(x: Tensor, draw: NoiseDraw): Promise<Float32Array>;
  /** One draw's per-image loss and its gradient, as the estimator sees it. */
  sample(estimator: Estimator, labels: ArrayLike<number>, loss: LogitLoss): SampleGradient;
}

export function pipelineTarget(p: Pipeline): AttackTarget {
  const { classes, imageShape } = p.classifier;
  const logits = (x: Tensor, draw: NoiseDraw) => pipelineLogits(p, x, draw);
  if (!p.defense) {
    // Every estimator of a bare classifier is its exact gradient, and no draw changes it.
    return { imageShape, classes, randomised: false, logits, sample: (_estimator, labels, loss) => {
      const gradient = classifierGradient(p.classifier, labels, loss);
      return (x) => gradient(x, 0);
    } };
  }
  const d = p as DefendedPipeline;
  return { imageShape, classes, randomised: true, guide: d.defense.guide, logits, sample: (estimator, labels, loss) => {
    if (estimator === 'bpda') return bpdaSample(d, labels, loss);
    return fullGradientSample(estimator === 'smooth' ? smoothSurrogate(d) : d, labels, loss);
  } };
}
