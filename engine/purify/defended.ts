// A defended classifier: purify (optionally several times) then classify, majority vote over the
// repeats (ties go to the smallest class index).
import type { Classifier, Denoiser } from '../models/types.ts';
import type { Tensor } from '../tensor.ts';
import { argmaxRows } from '../eval/predict.ts';
import { purify, type PurifyOptions } from './purifier.ts';

export interface DefendedResult {
  predictions: number[];
  /** The purified images of the first repeat (for grids). */
  purified: Float32Array;
}

export async function purifyAndClassify(
  denoiser: Denoiser,
  classifier: Classifier,
  images: Tensor,
  opts: PurifyOptions,
  guide?: Classifier,
  repeats = 1,
): Promise<DefendedResult> {
  const engine = images.engine;
  const n = images.shape[0];
  const votes = Array.from({ length: n }, () => new Array(classifier.classes).fill(0));
  let purified: Float32Array = new Float32Array(0);
  for (let r = 0; r < repeats; r++) {
    const { labels, pixels } = await engine.scopeAsync(async () => {
      const x = await purify(denoiser, images, { ...opts, repeat: (opts.repeat ?? 0) + r }, guide);
      return { labels: argmaxRows(await classifier.logits(x).read(), classifier.classes), pixels: r === 0 ? await x.read() : null };
    });
    labels.forEach((c, i) => votes[i][c]++);
    if (pixels) purified = pixels;
  }
  return { predictions: votes.map((v) => v.indexOf(Math.max(...v))), purified };
}
