// What attacks target: a classifier, alone or behind a diffusion purifier, and the noise convention
// that keeps the defence's own randomness apart from the attacker's EOT samples.
import type { Classifier, Denoiser } from '../models/types.ts';
import { purify, type Method, type PurifyOptions } from '../purify/purifier.ts';
import type { Tensor } from '../tensor.ts';

export type DefenseName = 'none' | Method;

export interface Defense {
  denoiser: Denoiser;
  /** AGDM's guidance network c_φ. */
  guide?: Classifier;
  /** Purification settings; the noise (seed, repeat, first index) comes with each run. */
  options: Omit<PurifyOptions, 'seed' | 'repeat' | 'firstIndex' | 'onStep' | 'signal'>;
}

export interface Pipeline {
  classifier: Classifier;
  defense?: Defense;
}

export type DefendedPipeline = Pipeline & { defense: Defense };

/** One purification noise draw for a batch. */
export interface NoiseDraw {
  seed: number;
  repeat: number;
  /** Global index of the batch's first image, so split batches see the same noise. */
  firstIndex: number;
}

/**
 * The draw a defence is judged with: repeat 0. Attack samples use repeats ≥ 1 (eot.ts), so an
 * attack never optimises against the very noise its result is scored under.
 */
export const evaluationDraw = (seed: number, firstIndex: number): NoiseDraw => ({ seed, repeat: 0, firstIndex });

export const defenseName = (p: Pipeline): DefenseName => p.defense?.options.method ?? 'none';

export function purifyWith(defense: Defense, images: Tensor, draw: NoiseDraw): Promise<Tensor> {
  return purify(defense.denoiser, images, { ...defense.options, ...draw }, defense.guide);
}

/** Classifier logits [N, K] of the images, purified first when the pipeline has a defence. */
export async function pipelineLogits(p: Pipeline, images: Tensor, draw: NoiseDraw): Promise<Float32Array> {
  const engine = images.engine;
  return engine.scopeAsync(async () => p.classifier.logits(p.defense ? await purifyWith(p.defense, images, draw) : images).read());
}
