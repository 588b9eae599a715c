// The DDPM training objective (Ho et al. 2020, "L_simple"): x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε for
// t ~ U{0, …, T−1} and ε ~ N(0, I), loss = mean ‖ε − ε_θ(x_t, t)‖². Timesteps and noise are
// functions of a (seed, stream, image index) key, so a step's draws never depend on what ran before.
import type { Dataset } from '../data/datasets.ts';
import { modelSpace } from '../diffusion/model-space.ts';
import type { Schedule } from '../diffusion/schedule.ts';
import type { Denoiser } from '../models/types.ts';
import { add, affine, fromArray, mseLoss, mul, randomNormal } from '../ops/index.ts';
import { philoxReference, type NoiseKey } from '../ops/random.ts';
import type { Tensor } from '../tensor.ts';

/** Key of the fixed draws behind the held-out loss; training keys use the run's seed instead. */
const HELD_OUT_KEY = { seed: 20_200_619, stream: 0 };

/**
 * One step per image, uniform in [0, T): Philox at counter (image, 0, stream, 1). randomNormal
 * uses word 3 = 0, so timesteps and noise drawn under one key are independent.
 */
export function sampleTimesteps(count: number, T: number, key: NoiseKey): number[] {
  const philoxKey: [number, number] = [key.seed % 2 ** 32, Math.floor(key.seed / 2 ** 32)];
  return Array.from({ length: count }, (_, i) => {
    const row = (key.firstRow ?? 0) + i;
    const [bits] = philoxReference([row % 2 ** 32, Math.floor(row / 2 ** 32), key.stream >>> 0, 1], philoxKey);
    return Math.floor((bits / 2 ** 32) * T);
  });
}

/** [0, 1] images in the denoiser's model space. */
export function toModelSpace(denoiser: Denoiser, images: Tensor): Tensor {
  const { a, b } = modelSpace(denoiser).toModel;
  return a === 1 && b === 0 ? images : affine(images, a, b);
}

/** A sample of q(x_t | x₀) = N(√ᾱ_t·x₀, (1−ᾱ_t)·I), with t per image. */
export function noised(x0: Tensor, eps: Tensor, t: readonly number[], schedule: Schedule): Tensor {
  const perImage = (f: (alphaBar: number) => number) =>
    fromArray(x0.engine, t.map((step) => f(schedule.alphaBars[step])), [t.length, ...x0.shape.slice(1).map(() => 1)], 'ddpm coefficients');
  return add(mul(x0, perImage(Math.sqrt)), mul(eps, perImage((ab) => Math.sqrt(1 - ab))));
}

/** mean ‖ε − ε_θ(x_t, t)‖² over every value of the batch, for x₀ already in model space. */
export function ddpmLoss(denoiser: Denoiser, x0: Tensor, t: readonly number[], eps: Tensor): Tensor {
  return mseLoss(denoiser.predictEps(noised(x0, eps, t, denoiser.schedule), [...t]), eps);
}

export function checkImageShape(denoiser: Denoiser, data: Pick<Dataset, 'channels' | 'height' | 'width'>): void {
  const [c, h, w] = denoiser.imageShape;
  if (data.channels !== c || data.height !== h || data.width !== w) {
    throw new RangeError(`dataset images are ${data.channels}×${data.height}×${data.width}, but ${denoiser.name} models ${c}×${h}×${w} images`);
  }
}

/**
 * The objective on the first n images of `data` with timesteps and noise fixed per image (not per
 * batch), so values compare across epochs, batch sizes and runs.
 */
export async function heldOutLoss(denoiser: Denoiser, data: Dataset, n: number, batch: number): Promise<number> {
  checkImageShape(denoiser, data);
  const engine = denoiser.params.engine;
  const count = Math.min(n, data.n);
  const per = data.channels * data.height * data.width;
  let total = 0;
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    total += size * await engine.scopeAsync(() => {
      const key = { ...HELD_OUT_KEY, firstRow: start };
      const images = fromArray(engine, data.images.subarray(start * per, (start + size) * per), [size, data.channels, data.height, data.width], 'held-out images');
      const eps = randomNormal(engine, images.shape, key);
      return ddpmLoss(denoiser, toModelSpace(denoiser, images), sampleTimesteps(size, denoiser.schedule.T, key), eps).item();
    });
  }
  return total / count;
}
