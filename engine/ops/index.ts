// The op table: every op family and the kernels it may launch (all precompiled at load), plus the
// public op functions.
import { installGradHelpers } from '../autograd.ts';
import type { Engine, KernelSpec } from '../runtime.ts';
import type { Tuning } from './tuning.ts';
import type { Tensor } from '../tensor.ts';
import { optimizerKernels } from '../train/optimizer.ts';
import { scaledDotProductAttention } from './attention.ts';
import { add, binaryKernels, broadcastTo, div, maximum, minimum, mul, sub } from './binary.ts';
import { fillKernel, fromArray, full, ones, zeros } from './common.ts';
import { conv2d, convKernels, convTranspose2d } from './conv.ts';
import { diffusionStep, diffusionStepKernels } from './diffusion-step.ts';
import { embeddingKernels, timestepEmbedding } from './embedding.ts';
import { concatChannels, crop2d, layoutKernels, pad2d, padChannels, sliceChannels, subsample2x } from './layout.ts';
import { crossEntropy, gatherColumns, klDivLoss, labelTensor, lossKernels, mseLoss, nllOfLogProbs, oneHot } from './losses.ts';
import { linear, matmul, matmulKernels } from './matmul.ts';
import { batchNormInference, groupNorm, layerNormCHW, normKernels } from './norm.ts';
import { avgPool2x2, globalAvgPool, maxPool2x2, poolKernels, upsampleNearest2x } from './pool.ts';
import { randomKernels, randomNormal, randomUniform } from './random.ts';
import { mean, reduceKernel, sum, sumTo } from './reduce.ts';
import { reshape } from './shape.ts';
import { logSoftmax, softmax, softmaxKernels } from './softmax.ts';
import { abs, affine, clamp, exp, log, relu, scale, sign, silu, sqrt, square, unaryKernels } from './unary.ts';

export const OPS: Record<string, { kernels: (tuning: Tuning) => KernelSpec[] }> = {
  fill: { kernels: (tuning) => [fillKernel(tuning)] },
  unary: { kernels: unaryKernels },
  binary: { kernels: binaryKernels },
  reduce_sum: { kernels: () => [reduceKernel] },
  matmul: { kernels: matmulKernels },
  conv2d: { kernels: convKernels },
  norm: { kernels: normKernels },
  softmax: { kernels: softmaxKernels },
  pool: { kernels: poolKernels },
  copy_box: { kernels: layoutKernels },
  timestep_embedding: { kernels: embeddingKernels },
  losses: { kernels: lossKernels },
  random: { kernels: randomKernels },
  diffusion_step: { kernels: diffusionStepKernels },
  optimizer: { kernels: optimizerKernels },
};

export function allKernels(tuning: Tuning): KernelSpec[] {
  return Object.values(OPS).flatMap((o) => o.kernels(tuning));
}

/** Compiles every kernel of the op table in parallel. */
export async function precompileAll(engine: Engine, onProgress?: (done: number, total: number) => void): Promise<void> {
  await engine.precompile(allKernels(engine.tuning), onProgress);
}

installGradHelpers({
  ones: (like: Tensor) => ones(like.engine, like.shape),
  zeros: (like: Tensor) => zeros(like.engine, like.shape),
  add,
});

export {
  abs, add, affine, avgPool2x2, batchNormInference, broadcastTo, clamp, concatChannels, conv2d, convTranspose2d, crop2d,
  crossEntropy, diffusionStep, div, exp, fromArray, full, gatherColumns, globalAvgPool, groupNorm, klDivLoss, labelTensor,
  layerNormCHW, linear, log, logSoftmax, matmul, maximum, maxPool2x2, mean, minimum, mseLoss, mul, nllOfLogProbs, oneHot, ones, pad2d,
  padChannels, randomNormal, randomUniform, relu, reshape, scale, scaledDotProductAttention, sign, silu, sliceChannels, softmax, sqrt, square,
  sub, subsample2x, sum, sumTo, timestepEmbedding, upsampleNearest2x, zeros,
};
