// Projection onto the L∞ or L2 ε-ball around x, intersected with the image box [0, 1].
import { add, affine, clamp, div, full, maximum, minimum, mul, reshape, sqrt, square, sub, sum } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';

export type Norm = 'linf' | 'l2';

export function projectLinf(xAdv: Tensor, x: Tensor, eps: number): Tensor {
  return clamp(minimum(maximum(xAdv, affine(x, 1, -eps)), affine(x, 1, eps)), 0, 1);
}

/** Per-image L2 norms of a batch [N, ...] as an [N, 1] tensor. */
export function rowNorms(d: Tensor): Tensor {
  return sqrt(sum(square(reshape(d, [d.shape[0], -1])), [1], true));
}

export function projectL2(xAdv: Tensor, x: Tensor, eps: number): Tensor {
  const n = x.shape[0];
  const delta = reshape(sub(xAdv, x), [n, -1]);
  // δ·ε / max(‖δ‖, ε) scales only the perturbations that leave the ball.
  const factor = div(full(x.engine, [n, 1], eps), maximum(rowNorms(delta), full(x.engine, [n, 1], eps)));
  return clamp(add(x, reshape(mul(delta, factor), x.shape)), 0, 1);
}

export function project(norm: Norm, xAdv: Tensor, x: Tensor, eps: number): Tensor {
  return norm === 'linf' ? projectLinf(xAdv, x, eps) : projectL2(xAdv, x, eps);
}
