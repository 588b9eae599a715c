// Unconditional ancestral DDPM sampling from pure noise: the check that a denoiser really models
// its data (Ho et al. 2020, Algorithm 2), run by purification's own reverse chain (fromNoise, t* = T).
import { zeros } from '../ops/index.ts';
import { purify } from '../purify/purifier.ts';
import type { Denoiser } from '../models/types.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';

/** n images in [0, 1] sampled from the denoiser's T-step chain, noise streams from `seed`. */
export async function sample(engine: Engine, denoiser: Denoiser, n: number, seed: number, onStep?: (done: number, total: number) => void): Promise<Tensor> {
  const shape = zeros(engine, [n, ...denoiser.imageShape]);
  try {
    return await purify(denoiser, shape, { method: 'diffpure', tStar: denoiser.schedule.T, fromNoise: true, seed, onStep });
  } finally {
    shape.dispose();
  }
}
