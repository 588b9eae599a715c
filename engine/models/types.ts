// What the purifier, attacks and evaluations need from a model, whatever its architecture.
import type { Schedule } from '../diffusion/schedule.ts';
import type { Params } from '../nn/params.ts';
import type { Tensor } from '../tensor.ts';

/**
 * A frozen ε-prediction diffusion model. `dataRange` is the model space images live in: 'unit'
 * feeds [0, 1] images unchanged (the Franfee MNIST DDPM's measured behaviour), 'symmetric' maps
 * them to [−1, 1] (Ho et al., DiffPure).
 */
export interface Denoiser {
  name: string;
  imageShape: [number, number, number];
  dataRange: 'unit' | 'symmetric';
  schedule: Schedule;
  params: Params;
  /** ε̂(x_t, t) for a batch; t holds one 0-based step per image. */
  predictEps(x: Tensor, t: number[]): Tensor;
}

/** A classifier taking images in [0, 1] (any input normalisation happens inside). */
export interface Classifier {
  name: string;
  imageShape: [number, number, number];
  classes: number;
  params: Params;
  logits(x: Tensor): Tensor;
  /** The representation guidance compares (penultimate features), when the architecture has one. */
  features?(x: Tensor): { features: Tensor; logits: Tensor };
  /**
   * The same network (same parameters) with each ReLU replaced by silu(β·x)/β and each max pool
   * by a log-sum-exp pool, when the architecture has one: the smooth surrogate a smooth-BPDA attack
   * differentiates.
   */
  smoothed?(beta: number): Classifier;
}
