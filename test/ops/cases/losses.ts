// Losses on [N, K] rows (10 classes, 1000 classes, odd sizes): cross entropy with labels as an
// array or a tensor, gatherColumns, NLL of log-probabilities, MSE in each reduction, KL divergence.
import type { Engine } from '../../../engine/index.ts';
import { crossEntropy, gatherColumns, klDivLoss, labelTensor, mseLoss, nllOfLogProbs, type MseReduction } from '../../../engine/ops/losses.ts';
import { map, nd } from '../../../engine/reference/nd.ts';
import * as ref from '../../../engine/reference/losses.ts';
import { F32_TINY, U } from '../../helpers/error-bound.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { OpCase } from '../../helpers/op-case.ts';
import { SAFETY, rounded, softmaxBound, sumOf } from './bounds.ts';

const ROW_SHAPES = [[1, 10], [7, 10], [5, 3], [33, 1000], [300, 10], [3, 5]];

const randomLabels = (random: () => number, n: number, K: number) => Array.from({ length: n }, () => Math.floor(random() * K));
const logProbs = (random: () => number, shape: number[], scale = 1) => map(ref.logSoftmax(randomNd(random, shape, scale)), Math.fround);
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

/**
 * A row's loss is −(log-softmax at the label): softmaxBound's log error (the kernel's log1p path for
 * confident rows is more accurate still); the batch mean adds (N + 1)U of the mean |row loss|. The
 * gradient g·(p − onehot)/N carries p's relative error, three roundings and a possible flush of p.
 */
function crossEntropyCase(n: number, K: number, labelsAsTensor: boolean): OpCase {
  return {
    op: 'crossEntropy',
    name: `crossEntropy [${n},${K}] labels ${labelsAsTensor ? 'tensor' : 'array'}`,
    make: (random) => {
      const labels = randomLabels(random, n, K);
      return {
        inputs: [randomNd(random, [n, K], 3)],
        gpu: ([t], engine: Engine) => crossEntropy(t, labelsAsTensor ? labelTensor(engine, labels, K) : labels),
        ref: ([x]) => nd([1], [ref.crossEntropy(x, labels)]),
        refGrads: ([x], g) => [ref.crossEntropyBackward(x, labels, g.data[0])],
        bounds: ([x], { g }) => {
          const sm = softmaxBound(x.data, K, 1);
          const rowLoss = labels.map((l, r) => -Math.log(sm.y[r * K + l]));
          const forward = Float64Array.of(sum(labels.map((l, r) => sm.logAbs[r * K + l])) / n + SAFETY * (n + 1) * U * (sum(rowLoss) / n));
          const scale = Math.abs(g.data[0]) / n;
          const grad = sm.y.map((p, i) => SAFETY * scale * (p * sm.rel[i] + 3 * U * Math.abs(p - (labels[Math.floor(i / K)] === i % K ? 1 : 0)) + F32_TINY));
          return { forward, grads: [grad] };
        },
      };
    },
  };
}

/** A pure gather and its scatter: exact, one ulp of slack. */
function gatherCase(n: number, K: number): OpCase {
  return {
    op: 'gatherColumns',
    name: `gatherColumns [${n},${K}]`,
    make: (random) => {
      const idx = randomLabels(random, n, K);
      return {
        inputs: [randomNd(random, [n, K])],
        gpu: ([t], engine) => gatherColumns(t, labelTensor(engine, idx, K)),
        ref: ([x]) => ref.gatherColumns(x, idx),
        refGrads: ([x], g) => [ref.gatherColumnsBackward(x.shape, idx, g)],
        bounds: (_xs, { y, grads }) => ({ forward: rounded(y.data, 1), grads: [rounded(grads[0].data, 1)] }),
      };
    },
  };
}

/** −mean of N picked values: N terms and the scaling; the gradient −g/N at the picked columns (two roundings). */
function nllCase(n: number, K: number): OpCase {
  return {
    op: 'nllOfLogProbs',
    name: `nllOfLogProbs [${n},${K}]`,
    make: (random) => {
      const idx = randomLabels(random, n, K);
      return {
        inputs: [logProbs(random, [n, K])],
        gpu: ([t]) => nllOfLogProbs(t, idx),
        ref: ([x]) => nd([1], [ref.nllOfLogProbs(x, idx)]),
        refGrads: ([x], g) => [map(ref.gatherColumnsBackward(x.shape, idx, nd([n], new Array(n).fill(1))), (v) => (-g.data[0] * v) / n)],
        bounds: ([x], { grads }) => ({ forward: sumOf(Float64Array.of(sum(ref.gatherColumns(map(x, Math.abs), idx).data) / n), n + 1), grads: [rounded(grads[0].data, 2)] }),
      };
    },
  };
}

/**
 * (a − b)² summed over K terms (each: the difference and the square, 2 roundings) and maybe
 * scaled; the terms are ≥ 0, so Σ|terms| is the reference itself. The gradient 2(a − b)·g/K has
 * ~4 roundings.
 */
function mseCase(shape: number[], reduction: MseReduction): OpCase {
  const size = shape.reduce((a, b) => a * b, 1);
  const K = reduction === 'per-sample' ? size / shape[0] : size;
  return {
    op: 'mseLoss',
    name: `mseLoss ${reduction} [${shape}]`,
    make: (random) => ({
      inputs: [randomNd(random, shape), randomNd(random, shape)],
      gpu: ([a, b]) => mseLoss(a, b, reduction),
      ref: ([a, b]) => ref.mseLoss(a, b, reduction),
      refGrads: ([a, b], g) => ref.mseLossBackward(a, b, reduction, g),
      bounds: (_xs, { y, grads }) => ({ forward: sumOf(y.data, K + 3), grads: grads.map((gr) => rounded(gr.data, 4)) }),
    }),
  };
}

/**
 * (1/N) Σ p_t·(lt − ls) over N·K terms, p_t = exp(lt) (3 + 2|lt| ULP): the sum is judged against
 * Σ p_t·|lt − ls|, since the terms cancel. Gradients per element: −g·p_t/N and g·p_t·(lt − ls + 1)/N.
 */
function klCase(n: number, K: number): OpCase {
  return {
    op: 'klDivLoss',
    name: `klDivLoss [${n},${K}]`,
    make: (random) => ({
      inputs: [logProbs(random, [n, K], 2), logProbs(random, [n, K], 2)],
      gpu: ([s, t]) => klDivLoss(s, t),
      ref: ([s, t]) => nd([1], [ref.klDivLoss(s, t)]),
      refGrads: ([s, t], g) => ref.klDivLossBackward(s, t, g.data[0]),
      bounds: ([s, t], { g }) => {
        const terms = t.data.map((lt, i) => Math.exp(lt) * Math.abs(lt - s.data[i]) * (n * K + 6 + 2 * Math.abs(lt)));
        const scale = Math.abs(g.data[0]) / n;
        return {
          forward: Float64Array.of((SAFETY * U * sum(terms)) / n),
          grads: [
            t.data.map((lt) => SAFETY * U * (6 + 2 * Math.abs(lt)) * scale * Math.exp(lt)),
            t.data.map((lt, i) => SAFETY * U * (10 + 2 * Math.abs(lt)) * scale * Math.exp(lt) * (Math.abs(lt) + Math.abs(s.data[i]) + 1)),
          ],
        };
      },
    }),
  };
}

export const LOSS_CASES: OpCase[] = [
  ...ROW_SHAPES.flatMap(([n, K]) => [crossEntropyCase(n, K, false), crossEntropyCase(n, K, true), gatherCase(n, K), nllCase(n, K), klCase(n, K)]),
  ...[[4, 3, 5, 7], [1, 10], [6], [2, 1, 28, 28], [2, 3]].flatMap((shape) => (['mean', 'sum', 'per-sample'] as const).map((r) => mseCase(shape, r))),
];
