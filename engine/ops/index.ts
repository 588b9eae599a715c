// The op table: every op's public function and the kernels it may launch (precompiled at load).
import { installGradHelpers } from '../autograd.ts';
import type { Engine, KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { fillKernel, full, ones, zeros, fromArray } from './common.ts';
import { add, binaryKernels, div, mul, sub, broadcastTo } from './binary.ts';
import { matmul, linear, matmulKernels } from './matmul.ts';
import { mean, reduceKernel, sum, sumTo } from './reduce.ts';
import { reshape } from './shape.ts';
import { randomKernel, randomNormal } from './random.ts';
import { diffusionStep, diffusionStepKernels } from './diffusion-step.ts';
import { abs, affine, clamp, exp, log, relu, scale, sign, silu, square, unaryKernels } from './unary.ts';

export const OPS: Record<string, { kernels: () => KernelSpec[] }> = {
  fill: { kernels: () => [fillKernel] },
  unary: { kernels: unaryKernels },
  binary: { kernels: binaryKernels },
  reduce_sum: { kernels: () => [reduceKernel] },
  matmul: { kernels: matmulKernels },
  random_normal: { kernels: () => [randomKernel] },
  diffusion_step: { kernels: diffusionStepKernels },
};

export function allKernels(): KernelSpec[] {
  return Object.values(OPS).flatMap((o) => o.kernels());
}

/** Compiles every kernel of the op table in parallel. */
export async function precompileAll(engine: Engine, onProgress?: (done: number, total: number) => void): Promise<void> {
  await engine.precompile(allKernels(), onProgress);
}

installGradHelpers({
  ones: (like: Tensor) => ones(like.engine, like.shape),
  zeros: (like: Tensor) => zeros(like.engine, like.shape),
  add,
});

export {
  abs, add, affine, diffusionStep, randomNormal, broadcastTo, clamp, div, exp, fromArray, full, linear, log, matmul, mean, mul, ones, relu, reshape,
  scale, sign, silu, square, sub, sum, sumTo, zeros,
};
