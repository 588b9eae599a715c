// The one image → purified → label pipeline: a classifier, alone or behind a diffusion purifier,
// and the noise convention that keeps the defence's own randomness apart from an attacker's EOT
// samples. Attacks differentiate it, evaluations score it, the CLI's demo and the guidance sweep
// classify with it (majority vote over repeated purifications).
import { argmaxRows } from '../eval/predict.ts';
import type { Classifier, Denoiser } from '../models/types.ts';
import type { Tensor } from '../tensor.ts';
import { purify, type Method, type PurifyOptions } from './purifier.ts';

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
 * The draw a defence is judged with: repeat 0, and for further scoring draws of the same images
 * (`scoring` 1, 2, …) repeats −1, −2, …. Attack samples use repeats ≥ 1 (eot.ts), so an attack never
 * optimises against the very noise its result is scored under.
 */
export const evaluationDraw = (seed: number, firstIndex: number, scoring = 0): NoiseDraw => ({ seed, repeat: scoring ? -scoring : 0, firstIndex });

export const defenseName = (p: Pipeline): DefenseName => p.defense?.options.method ?? 'none';

export function purifyWith(defense: Defense, images: Tensor, draw: NoiseDraw, onStep?: PurifyOptions['onStep']): Promise<Tensor> {
  return purify(defense.denoiser, images, { ...defense.options, ...draw, onStep }, defense.guide);
}

/** Classifier logits [N, K] of the images, purified first when the pipeline has a defence. */
export async function pipelineLogits(p: Pipeline, images: Tensor, draw: NoiseDraw): Promise<Float32Array> {
  const engine = images.engine;
  return engine.scopeAsync(async () => p.classifier.logits(p.defense ? await purifyWith(p.defense, images, draw) : images).read());
}

export interface DefendedResult {
  predictions: number[];
  /** The purified images of the first repeat (null without a defence). */
  purified: Float32Array | null;
}

/**
 * The pipeline's labels, majority vote over `repeats` draws (repeat draw.repeat, +1, …; ties go to
 * the smallest class index), with the first draw's purified images.
 */
export async function purifyAndClassify(p: Pipeline, images: Tensor, draw: NoiseDraw, repeats = 1, onStep?: PurifyOptions['onStep']): Promise<DefendedResult> {
  const engine = images.engine;
  const { classes } = p.classifier;
  const votes = Array.from({ length: images.shape[0] }, () => new Array(classes).fill(0));
  let purified: Float32Array | null = null;
  for (let r = 0; r < (p.defense ? repeats : 1); r++) {
    const { labels, pixels } = await engine.scopeAsync(async () => {
      const x = p.defense ? await purifyWith(p.defense, images, { ...draw, repeat: draw.repeat + r }, onStep) : images;
      return { labels: argmaxRows(await p.classifier.logits(x).read(), classes), pixels: r === 0 && p.defense ? await x.read() : null };
    });
    labels.forEach((c, i) => votes[i][c]++);
    if (pixels) purified = pixels;
  }
  return { predictions: votes.map((v) => v.indexOf(Math.max(...v))), purified };
}
