// Float64 references for the losses and gatherColumns, values and gradients. Gradients take the
// upstream gradient g of the loss (a number for scalar losses, an Nd for per-row outputs).
import { nd, type Nd } from './nd.ts';

function rows(x: Nd): number[][] {
  const [n, k] = x.shape;
  return Array.from({ length: n }, (_, r) => Array.from(x.data.subarray(r * k, (r + 1) * k)));
}

export function logSoftmax(x: Nd): Nd {
  return nd(x.shape, rows(x).flatMap((row) => {
    const peak = Math.max(...row);
    const lse = peak + Math.log(row.reduce((s, v) => s + Math.exp(v - peak), 0));
    return row.map((v) => v - lse);
  }));
}

export function gatherColumns(x: Nd, index: number[]): Nd {
  const k = x.shape[1];
  return nd([x.shape[0]], index.map((j, r) => x.data[r * k + j]));
}

export function gatherColumnsBackward(xShape: number[], index: number[], g: Nd): Nd {
  const gx = nd(xShape);
  index.forEach((j, r) => (gx.data[r * xShape[1] + j] += g.data[r]));
  return gx;
}

/** −mean_n logp[n, labels[n]]. */
export const nllOfLogProbs = (logp: Nd, labels: number[]) => -gatherColumns(logp, labels).data.reduce((s, v) => s + v, 0) / labels.length;

export const crossEntropy = (logits: Nd, labels: number[]) => nllOfLogProbs(logSoftmax(logits), labels);

/** g · (softmax − onehot) / N. */
export function crossEntropyBackward(logits: Nd, labels: number[], g = 1): Nd {
  const n = logits.shape[0];
  const probs = logSoftmax(logits).data.map(Math.exp);
  const onehot = gatherColumnsBackward(logits.shape, labels, nd([n], new Array(n).fill(1)));
  return nd(logits.shape, probs.map((p, i) => (g * (p - onehot.data[i])) / n));
}

export type MseReduction = 'mean' | 'sum' | 'per-sample';

export function mseLoss(a: Nd, b: Nd, reduction: MseReduction): Nd {
  const sq = a.data.map((v, i) => (v - b.data[i]) ** 2);
  const total = sq.reduce((s, v) => s + v, 0);
  if (reduction === 'sum') return nd([1], [total]);
  if (reduction === 'mean') return nd([1], [total / sq.length]);
  const n = a.shape[0], per = sq.length / n;
  return nd([n], Array.from({ length: n }, (_, r) => sq.subarray(r * per, (r + 1) * per).reduce((s, v) => s + v, 0) / per));
}

/** Gradients w.r.t. a and b; g has the loss's shape. */
export function mseLossBackward(a: Nd, b: Nd, reduction: MseReduction, g: Nd): [Nd, Nd] {
  const n = a.shape[0], per = a.data.length / n;
  const weight = (i: number) => (reduction === 'sum' ? g.data[0] : reduction === 'mean' ? g.data[0] / a.data.length : g.data[Math.floor(i / per)] / per);
  const ga = nd(a.shape, a.data.map((v, i) => 2 * (v - b.data[i]) * weight(i)));
  return [ga, nd(a.shape, ga.data.map((v) => -v))];
}

/** (1/N) Σ p_t (log p_t − log p_s). */
export function klDivLoss(logpStudent: Nd, logpTeacher: Nd): number {
  const n = logpStudent.shape[0];
  return logpTeacher.data.reduce((s, lt, i) => s + Math.exp(lt) * (lt - logpStudent.data[i]), 0) / n;
}

/** Gradients w.r.t. the student and teacher log-probabilities, times the upstream g. */
export function klDivLossBackward(logpStudent: Nd, logpTeacher: Nd, g = 1): [Nd, Nd] {
  const n = logpStudent.shape[0];
  const gs = logpTeacher.data.map((lt) => (-g * Math.exp(lt)) / n);
  const gt = logpTeacher.data.map((lt, i) => (g * Math.exp(lt) * (lt - logpStudent.data[i] + 1)) / n);
  return [nd(logpStudent.shape, gs), nd(logpTeacher.shape, gt)];
}
