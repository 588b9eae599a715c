// Differentiable reshape: a view of the same storage; the gradient is the view of the gradient.
import { recordDifferentiable } from '../autograd.ts';
import type { Tensor } from '../tensor.ts';

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const inferred = shape.indexOf(-1);
  const known = shape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  const full = inferred >= 0 ? shape.map((d) => (d === -1 ? x.size / known : d)) : shape;
  return recordDifferentiable('reshape', [x], x.view(full), (g) => [reshape(g, x.shape)]);
}
