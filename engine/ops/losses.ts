// Losses returning a [1] scalar (mean over the batch unless stated) with gradients w.r.t. their
// inputs: cross entropy (fused kernel, shaders/cross_entropy.wgsl), NLL of log-probabilities,
// MSE, KL divergence; plus gatherColumns (x[n, index[n]]) and one-hot/label helpers.
import { record, recordDifferentiable } from '../autograd.ts';
import { Uniforms, type Engine, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { sameShape } from '../tensor.ts';
import { FLAT_WG, empty, flatGrid, fromArray } from './common.ts';
import { mul, sub } from './binary.ts';
import { mean, sum } from './reduce.ts';
import { reshape } from './shape.ts';
import { exp, scale, square } from './unary.ts';

const ROW_OPS = ['CE_FORWARD', 'CE_BACKWARD', 'GATHER', 'SCATTER'] as const;
type RowOp = (typeof ROW_OPS)[number];

function rowKernel(rowOp: RowOp): KernelSpec {
  const defines: Record<string, boolean | number> = { WG: FLAT_WG };
  for (const name of ROW_OPS) defines[name] = name === rowOp;
  return { op: rowOp.toLowerCase(), shader: 'cross_entropy', defines };
}

/** One launch over `count` invocations of a cross_entropy.wgsl row op on [rows, K] scores. */
function runRowOp(rowOp: RowOp, storage: Tensor[], count: number, K: number, scaleBy = 1): void {
  const engine = storage[0].engine;
  const { groups, groupsX } = flatGrid(engine, count);
  engine.dispatch(rowKernel(rowOp), storage, new Uniforms().u32(count, groupsX, K).f32(scaleBy), groups);
}

function checkLabels(op: string, labels: readonly number[], K: number): void {
  labels.forEach((label, i) => {
    if (!Number.isInteger(label) || label < 0 || label >= K) throw new RangeError(`${op}: label ${label} at index ${i} is not a class index in [0, ${K})`);
  });
}

/** Uploads class indices as f32 after checking each is an integer in [0, K). */
export function labelTensor(engine: Engine, labels: readonly number[], K: number): Tensor {
  checkLabels('labelTensor', labels, K);
  return fromArray(engine, labels, [labels.length], 'labels');
}

/** [labels.length, K] rows with a 1 in each label's column. */
export function oneHot(engine: Engine, labels: readonly number[], K: number): Tensor {
  checkLabels('oneHot', labels, K);
  const data = new Float32Array(labels.length * K);
  labels.forEach((label, i) => (data[i * K + label] = 1));
  return fromArray(engine, data, [labels.length, K], 'one_hot');
}

/** [N, K] scores and their [N] labels; labels from an array are range-checked here, a tensor's on the GPU (NaN results). */
function rowsAndLabels(op: string, x: Tensor, labels: Tensor | readonly number[]): { n: number; K: number; labels: Tensor } {
  if (x.rank !== 2) throw new RangeError(`${op}: expected [N, K] scores, got [${x.shape}]`);
  const [n, K] = x.shape;
  const count = Array.isArray(labels) ? labels.length : (labels as Tensor).size;
  if (count !== n) throw new RangeError(`${op}: ${count} labels for ${n} rows`);
  return { n, K, labels: Array.isArray(labels) ? labelTensor(x.engine, labels, K) : (labels as Tensor) };
}

/**
 * Runs a composed op. Without a gradient being recorded its intermediates are freed at once; while
 * recording, backward closures need them and the recording scope (valueAndGrad) frees them later.
 */
function composed(engine: Engine, fn: () => Tensor): Tensor {
  return engine.tape ? fn() : engine.scope(fn);
}

const toScalar = (t: Tensor) => reshape(t, [1]);

/** mean_n (logsumexp(logits[n]) − logits[n, labels[n]]), fused; gradient (softmax − onehot)/N. */
export function crossEntropy(logits: Tensor, labels: Tensor | readonly number[]): Tensor {
  const engine = logits.engine;
  return composed(engine, () => {
    const { n, K, labels: lab } = rowsAndLabels('crossEntropy', logits, labels);
    const rowLoss = empty(engine, [n], 'ce_row_loss');
    const rowStats = empty(engine, [n, 2], 'ce_row_stats');
    runRowOp('CE_FORWARD', [logits, lab, rowLoss, rowStats], n, K);
    const loss = mean(rowLoss).view([1]);
    return record('crossEntropy', [logits], loss, (g) => {
      const gx = empty(engine, logits.shape, 'ce_backward');
      runRowOp('CE_BACKWARD', [logits, lab, rowStats, g, gx], n * K, K, 1 / n);
      return [gx];
    });
  });
}

/** [N]: x[n, index[n]]; the gradient scatters back into the picked columns. */
export function gatherColumns(x: Tensor, index: Tensor | readonly number[]): Tensor {
  const engine = x.engine;
  return composed(engine, () => {
    const { n, K, labels: idx } = rowsAndLabels('gatherColumns', x, index);
    const out = empty(engine, [n], 'gather_columns');
    runRowOp('GATHER', [x, idx, out], n, K);
    return recordDifferentiable('gatherColumns', [x], out, (g) => [scatterColumns(g, idx, K)]);
  });
}

/** [N, K] zeros with g[n] at column index[n]: gatherColumns' adjoint, whose own adjoint is the gather. */
function scatterColumns(g: Tensor, idx: Tensor, K: number): Tensor {
  const n = g.size;
  const gx = empty(g.engine, [n, K], 'gather_columns_backward');
  runRowOp('SCATTER', [g, idx, gx], n * K, K);
  return recordDifferentiable('scatterColumns', [g], gx, (gg) => [gatherColumns(gg, idx)]);
}

/** −mean_n logp[n, labels[n]] for log-probabilities logp [N, K]. */
export function nllOfLogProbs(logp: Tensor, labels: Tensor | readonly number[]): Tensor {
  return composed(logp.engine, () => toScalar(scale(mean(gatherColumns(logp, labels)), -1)));
}

export type MseReduction = 'mean' | 'sum' | 'per-sample';

/** (a − b)²: mean or sum over everything ([1]), or 'per-sample' means over all but axis 0 ([N]). */
export function mseLoss(a: Tensor, b: Tensor, reduction: MseReduction = 'mean'): Tensor {
  if (!sameShape(a.shape, b.shape)) throw new RangeError(`mseLoss: shapes [${a.shape}] and [${b.shape}] differ`);
  return composed(a.engine, () => {
    const squared = square(sub(a, b));
    if (reduction === 'per-sample') return a.rank === 1 ? squared : mean(squared, [...Array(a.rank).keys()].slice(1));
    return toScalar(reduction === 'sum' ? sum(squared) : mean(squared));
  });
}

/** KL(teacher ‖ student) averaged over the batch: (1/N) Σ p_t · (log p_t − log p_s), inputs log-probabilities [N, K]. */
export function klDivLoss(logpStudent: Tensor, logpTeacher: Tensor): Tensor {
  if (logpStudent.rank !== 2 || !sameShape(logpStudent.shape, logpTeacher.shape)) {
    throw new RangeError(`klDivLoss: expected two [N, K] tensors, got [${logpStudent.shape}] and [${logpTeacher.shape}]`);
  }
  const n = logpStudent.shape[0];
  return composed(logpStudent.engine, () => toScalar(scale(sum(mul(exp(logpTeacher), sub(logpTeacher, logpStudent))), 1 / n)));
}

export const lossKernels = (): KernelSpec[] => ROW_OPS.map(rowKernel);
