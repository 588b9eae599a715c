// How well an attack's surrogate chain stands in for the defence it is scored on: per image, the
// cosine between the surrogate's EOT-averaged full gradient and the true chain's, beside the
// cosine between two independent EOT estimates of the true chain's own gradient (the ceiling: no
// surrogate can agree with the true gradient better than the true gradient's own noise allows),
// and the ratio of their norms. Measure at adversarial images, where the loss is not ≈ 0.
import { eot } from '../attacks/eot.ts';
import { fullGradientSample } from '../attacks/full-gradient.ts';
import type { LogitLoss } from '../attacks/objectives.ts';
import type { DefendedPipeline } from '../purify/defended.ts';
import type { Tensor } from '../tensor.ts';

export interface GradientGap {
  /** cos(surrogate, true) per image. */
  cosine: number[];
  /** cos(true, true′) per image: two independent EOT estimates of the true gradient. */
  ceiling: number[];
  /** ‖surrogate‖ / ‖true‖ per image. */
  normRatio: number[];
}

export interface GapOptions {
  /** EOT samples per gradient estimate. */
  samples: number;
  seed: number;
  /** Global index of the first image (noise follows it). */
  firstIndex: number;
  loss?: LogitLoss;
}

function perImage(a: Float32Array, b: Float32Array, n: number): { cosine: number[]; ratio: number[] } {
  const per = a.length / n;
  const cosine: number[] = [];
  const ratio: number[] = [];
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let aa = 0;
    let bb = 0;
    for (let j = i * per; j < (i + 1) * per; j++) {
      dot += a[j] * b[j];
      aa += a[j] * a[j];
      bb += b[j] * b[j];
    }
    cosine.push(dot / Math.sqrt(aa * bb));
    ratio.push(Math.sqrt(aa / bb));
  }
  return { cosine, ratio };
}

export async function surrogateGap(truth: DefendedPipeline, surrogate: DefendedPipeline, images: Tensor, labels: ArrayLike<number>, opts: GapOptions): Promise<GradientGap> {
  const loss = opts.loss ?? 'ce';
  const gradient = async (p: DefendedPipeline, step: number) => {
    // Step 0 and step 1 of eot() draw disjoint noise repeats: independent estimates.
    const r = await eot(fullGradientSample(p, labels, loss), opts.samples, opts.seed, opts.firstIndex)(images, step);
    try {
      return await r.grad.read();
    } finally {
      r.grad.dispose();
    }
  };
  const trueA = await gradient(truth, 0);
  const trueB = await gradient(truth, 1);
  const surr = await gradient(surrogate, 0);
  const n = images.shape[0];
  const gap = perImage(surr, trueA, n);
  return { cosine: gap.cosine, ceiling: perImage(trueA, trueB, n).cosine, normRatio: gap.ratio };
}
