// The benchmark suite: one entry per kernel or model step the README promises numbers for.
import { fromArray, matmul } from '../../engine/ops/index.ts';
import type { Engine, Tensor } from '../../engine/index.ts';
import type { BenchCase } from './measure.ts';

export function randomTensor(engine: Engine, shape: number[], seed = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 32 - 0.5;
  }
  return fromArray(engine, data, shape, 'bench input');
}

function withInputs(shapes: number[][], body: (inputs: Tensor[]) => void): BenchCase['setup'] {
  return (engine) => {
    const inputs = shapes.map((s, i) => engine.keep(randomTensor(engine, s, i + 1)));
    return { run: () => body(inputs), dispose: () => inputs.forEach((t) => t.dispose()) };
  };
}

export const kernelCases: BenchCase[] = [
  { op: 'matmul', shape: '512×512×512', flops: 2 * 512 ** 3, setup: withInputs([[512, 512], [512, 512]], ([a, b]) => matmul(a, b)) },
  { op: 'matmul batched', shape: '8×256×64·64×256', flops: 2 * 8 * 256 * 256 * 64, setup: withInputs([[8, 256, 64], [8, 64, 256]], ([a, b]) => matmul(a, b)) },
];

/** One ε-prediction of a denoiser at a mid-chain step, for a batch of images. */
export function denoiserStepCase(name: string, load: (engine: Engine) => Promise<import('../../engine/models/types.ts').Denoiser>, batch: number): BenchCase & { prepare(engine: Engine): Promise<void> } {
  let model: import('../../engine/models/types.ts').Denoiser | null = null;
  return {
    op: `${name} UNet step`,
    shape: `batch ${batch}`,
    images: batch,
    async prepare(engine) {
      model ??= await load(engine);
    },
    setup: (engine) => {
      if (!model) throw new Error('prepare() first');
      const m = model;
      const [c, h, w] = m.imageShape;
      const x = engine.keep(randomTensor(engine, [batch, c, h, w]));
      return { run: () => void m.predictEps(x, new Array(batch).fill(50)), dispose: () => x.dispose() };
    },
  };
}
