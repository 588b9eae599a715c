// Scaled dot-product attention softmax(q·kᵀ·scale)·v, composed of batched matmul and the scaled
// softmax kernel, so its gradients come from theirs.
import type { Tensor } from '../tensor.ts';
import { matmul } from './matmul.ts';
import { scaledSoftmax } from './softmax.ts';

/**
 * Single-head attention over q [B, L, D], k [B, S, D], v [B, S, Dv] → [B, L, Dv] (self-attention
 * has S = L). The [B, L, S] score and weight matrices live only while the op runs, unless a
 * gradient is being recorded.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, scale = 1 / Math.sqrt(q.shape[q.rank - 1])): Tensor {
  if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3) throw new RangeError(`attention: q, k, v must be [B, L, D], got [${q.shape}], [${k.shape}], [${v.shape}]`);
  if (k.shape[0] !== q.shape[0] || v.shape[0] !== q.shape[0] || k.shape[2] !== q.shape[2] || v.shape[1] !== k.shape[1]) {
    throw new RangeError(`attention: shapes q [${q.shape}], k [${k.shape}], v [${v.shape}] do not fit [B, L, D], [B, S, D], [B, S, Dv]`);
  }
  const attend = () => matmul(scaledSoftmax(matmul(q, k, { transB: true }), scale), v);
  const recording = !!q.engine.tape && [q, k, v].some((t) => t.requiresGrad);
  return recording ? attend() : q.engine.scope(attend);
}
