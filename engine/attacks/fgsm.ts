// FGSM (Goodfellow et al. 2015) and its L2 form FGM: one step of size ε along the ascent direction.
import type { GradientFn } from './objectives.ts';
import { pgd } from './pgd.ts';
import type { Norm } from './project.ts';
import type { Tensor } from '../tensor.ts';

export function fgsm(x: Tensor, gradient: GradientFn, opts: { norm: Norm; eps: number }): Promise<Tensor> {
  return pgd(x, gradient, { norm: opts.norm, eps: opts.eps, steps: 1, stepSize: opts.eps });
}
