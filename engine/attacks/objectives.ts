// Attack objectives on a classifier: the gradient of the loss an attacker ascends.
import { valueAndGrad } from '../autograd.ts';
import { fromArray, oneHot, softmax, sub } from '../ops/index.ts';
import type { Classifier } from '../models/types.ts';
import type { Tensor } from '../tensor.ts';

/** The losses attacks ascend, evaluated per image on the CPU from the logits. */
export type LogitLoss = 'ce' | 'dlr';

/** What an attack learns from one gradient query at a batch of (perturbed) images. */
export interface LossAndGradient {
  /** ∇ₓ of the batch-summed loss, so each image's gradient is its own. */
  grad: Tensor;
  /** Per-image loss. */
  loss: Float64Array;
  /** The [N, K] logits the loss was computed from (an EOT mean when averaged). */
  logits: Float32Array;
}

/** Every attack's view of its target: the loss and its gradient at xAdv (step: the attack iteration). */
export type GradientFn = (xAdv: Tensor, step: number) => Promise<LossAndGradient>;

/**
 * Per-image loss and its gradient w.r.t. the logits, in float64.
 * ce: logsumexp(z) − z_y. dlr (Croce & Hein 2020): −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12),
 * π the classes sorted by decreasing logit; it is shift and scale invariant in z.
 */
export function logitLoss(loss: LogitLoss, logits: Float32Array, labels: ArrayLike<number>, classes: number): { loss: Float64Array; gradLogits: Float32Array } {
  const n = logits.length / classes;
  const out = new Float64Array(n);
  const grad = new Float32Array(logits.length);
  if (loss === 'dlr' && classes < 3) throw new RangeError('the DLR loss needs at least 3 classes');
  for (let i = 0; i < n; i++) {
    const z = logits.subarray(i * classes, (i + 1) * classes);
    const g = grad.subarray(i * classes, (i + 1) * classes);
    const y = labels[i];
    if (loss === 'ce') {
      const max = Math.max(...z);
      let total = 0;
      for (let j = 0; j < classes; j++) total += Math.exp(z[j] - max);
      out[i] = max + Math.log(total) - z[y];
      for (let j = 0; j < classes; j++) g[j] = Math.exp(z[j] - max) / total - (j === y ? 1 : 0);
    } else {
      const order = Array.from({ length: classes }, (_, j) => j).sort((a, b) => z[b] - z[a]);
      const other = order[0] === y ? order[1] : order[0];
      const margin = z[y] - z[other];
      const spread = z[order[0]] - z[order[2]] + 1e-12;
      out[i] = -margin / spread;
      g[y] -= 1 / spread;
      g[other] += 1 / spread;
      g[order[0]] += margin / (spread * spread);
      g[order[2]] -= margin / (spread * spread);
    }
  }
  return { loss: out, gradLogits: grad };
}

/**
 * The loss of `logitsOf(u)` and its gradient w.r.t. u. Cross-entropy: one forward and one backward,
 * seeded on the GPU with ∂CE/∂z = softmax(z) − onehot(y); the per-image losses come from the logits
 * read afterwards. DLR's logit gradient needs the sorted logits: one forward to read them, the
 * loss and its logit gradient on the CPU (float64), then a backward seeded with it.
 */
export async function lossThroughLogits(u: Tensor, logitsOf: (u: Tensor) => Tensor, labels: ArrayLike<number>, loss: LogitLoss): Promise<LossAndGradient> {
  const engine = u.engine;
  if (labels.length !== u.shape[0]) throw new RangeError(`${labels.length} labels for a batch of ${u.shape[0]} images`);
  if (loss === 'ce') {
    const { value, grads } = valueAndGrad(engine, () => logitsOf(u), [u], (z) => sub(softmax(z), oneHot(engine, Array.from(labels), z.shape[1])));
    const logits = await value.read();
    value.dispose();
    return { grad: grads[0], loss: logitLoss('ce', logits, labels, logits.length / u.shape[0]).loss, logits };
  }
  const logits = await engine.scopeAsync(() => logitsOf(u).read());
  const classes = logits.length / u.shape[0];
  const { loss: values, gradLogits } = logitLoss(loss, logits, labels, classes);
  const seed = fromArray(engine, gradLogits, [u.shape[0], classes], 'loss seed');
  const { value, grads } = valueAndGrad(engine, () => logitsOf(u), [u], seed);
  value.dispose();
  seed.dispose();
  return { grad: grads[0], loss: values, logits };
}

/** The bare classifier as an attack target. */
export function classifierGradient(classifier: Classifier, labels: ArrayLike<number>, loss: LogitLoss = 'ce'): GradientFn {
  return (x) => lossThroughLogits(x, (u) => classifier.logits(u), labels, loss);
}
