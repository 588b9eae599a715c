// The benchmark suite: one entry per kernel or model step the README promises numbers for.
import { affine, conv2d, convTranspose2d, fromArray, groupNorm, matmul, scaledDotProductAttention, sum } from '../../engine/ops/index.ts';
import { conv2dWeightGrad } from '../../engine/ops/conv.ts';
import { valueAndGrad, type Engine, type Tensor } from '../../engine/index.ts';
import { purify } from '../../engine/purify/purifier.ts';
import type { BenchCase } from './measure.ts';

const CONV_FLOPS = 2 * 8 * 64 * 32 * 32 * 64 * 9;

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
  { op: 'conv2d 3×3 forward', shape: '8×64×32×32 → 64', flops: CONV_FLOPS, setup: withInputs([[8, 64, 32, 32], [64, 64, 3, 3]], ([x, w]) => conv2d(x, w, undefined, { padding: 1 })) },
  // The input gradient of a conv is the transposed conv of the output gradient with the same weights.
  { op: 'conv2d 3×3 input gradient', shape: '8×64×32×32 → 64', flops: CONV_FLOPS, setup: withInputs([[8, 64, 32, 32], [64, 64, 3, 3]], ([g, w]) => convTranspose2d(g, w, undefined, { padding: 1 })) },
  { op: 'conv2d 3×3 weight gradient', shape: '8×64×32×32 → 64', flops: CONV_FLOPS, setup: withInputs([[8, 64, 32, 32], [8, 64, 32, 32]], ([x, g]) => conv2dWeightGrad(x, [64, 64, 3, 3], g, { padding: 1 })) },
  { op: 'group norm + SiLU', shape: '8×64×32×32, 32 groups', setup: withInputs([[8, 64, 32, 32], [64], [64]], ([x, g, b]) => groupNorm(x, 32, g, b, { silu: true })) },
  { op: 'attention', shape: '8×(16·16)×64', flops: 4 * 8 * 256 * 256 * 64, setup: withInputs([[8, 256, 64], [8, 256, 64], [8, 256, 64]], ([q, k, v]) => scaledDotProductAttention(q, k, v)) },
];

type Denoiser = import('../../engine/models/types.ts').Denoiser;
type Classifier = import('../../engine/models/types.ts').Classifier;
type PreparedCase = BenchCase & { prepare(engine: Engine): Promise<void> };

/**
 * One ε-prediction of `model` at a mid-chain step (t = 50) for a batch of random images, and the same
 * with the gradient of Σε̂ w.r.t. the input (what the attacks and the AGDM guidance pay per step):
 * the workload the step benchmarks, tools/profile.ts and tools/ab-shader.ts time.
 */
export function denoiserStep(engine: Engine, model: Denoiser, batch: number): { x: Tensor; t: number[]; forward(): Tensor; withInputGradient(): void; dispose(): void } {
  const x = engine.keep(randomTensor(engine, [batch, ...model.imageShape]));
  const t = new Array(batch).fill(50);
  return {
    x,
    t,
    forward: () => model.predictEps(x, t),
    withInputGradient: () => void valueAndGrad(engine, () => sum(model.predictEps(x, t)), [x]),
    dispose: () => x.dispose(),
  };
}

/** denoiserStep as a benchmark case (forward only, or with the input gradient). */
export function denoiserStepCase(name: string, load: (engine: Engine) => Promise<Denoiser>, batch: number, inputGradient = false): PreparedCase {
  let model: Denoiser | null = null;
  return {
    op: `${name} UNet step${inputGradient ? ' + input gradient' : ''}`,
    shape: `batch ${batch}`,
    images: batch,
    maxRepeats: 3,
    async prepare(engine) {
      model ??= await load(engine);
    },
    setup: (engine) => {
      if (!model) throw new Error('prepare() first');
      const step = denoiserStep(engine, model, batch);
      return { run: inputGradient ? step.withInputGradient : () => void step.forward(), dispose: step.dispose };
    },
  };
}

/** A whole purification chain (images/s), the workload every evaluation pays. */
export function chainCase(method: 'diffpure' | 'agdm', tStar: number, batch: number, load: (engine: Engine) => Promise<{ denoiser: Denoiser; guide?: Classifier }>): PreparedCase {
  let models: { denoiser: Denoiser; guide?: Classifier } | null = null;
  return {
    op: `${method} chain t*=${tStar}`,
    shape: `batch ${batch}`,
    images: batch,
    maxRepeats: 1,
    async prepare(engine) {
      models ??= await load(engine);
    },
    setup: (engine) => {
      if (!models) throw new Error('prepare() first');
      const { denoiser, guide } = models;
      const [c, h, w] = denoiser.imageShape;
      const x = engine.keep(affine(randomTensor(engine, [batch, c, h, w]), 1, 0.5));
      // measure() syncs after run(); the chain submits its own steps, so its promise is awaited there too.
      let pending: Promise<unknown> = Promise.resolve();
      return {
        run: () => void (pending = purify(denoiser, x, { method, tStar, seed: 1 }, guide).then((y) => y.dispose())),
        settle: () => pending,
        dispose: () => x.dispose(),
      };
    },
  };
}

/**
 * The Franfee MNIST DDPM step at batch 1, 16 and 64 (forward, and forward + input gradient), its
 * DiffPure and AGDM chains at batch 64, and one step of a CIFAR-size DDPM UNet (batch 1 and 8, random weights).
 */
export const CIFAR_UNET_LABEL = 'ddpm-cifar10';
/** The bench's CIFAR UNet has random weights drawn from this seed (the TF.js port reuses them). */
export const CIFAR_UNET_SEED = 1;
/** Batch 1 too: on CPU drivers one image takes seconds to tens of seconds (about 11 GFLOP). */
export const CIFAR_UNET_BATCHES = [1, 8];

/** The CIFAR-size DDPM UNet the bench times: google/ddpm-cifar10-32's shape with random weights. */
export async function cifarBenchUnet(engine: Engine): Promise<Denoiser> {
  const { DDPM_CIFAR10, ddpmUnet, ddpmUnetSpecs } = await import('../../engine/models/ddpm-unet.ts');
  const { Params } = await import('../../engine/nn/params.ts');
  return ddpmUnet(Params.init(engine, ddpmUnetSpecs(DDPM_CIFAR10), CIFAR_UNET_SEED), DDPM_CIFAR10, `${CIFAR_UNET_LABEL} (ch 128, mult 1,2,2,2; random weights)`);
}

export function modelCases(): BenchCase[] {
  const catalog = () => import('../../engine/models/catalog.ts');
  const franfee = async (engine: Engine) => (await catalog()).loadDenoiser(engine, 'franfee-mnist');
  const withGuide = async (engine: Engine) => ({ denoiser: await franfee(engine), guide: await (await catalog()).loadClassifier(engine, 'mnist-guidance') });
  return [
    ...[1, 16, 64].flatMap((batch) => [denoiserStepCase('franfee-mnist', franfee, batch), denoiserStepCase('franfee-mnist', franfee, batch, true)]),
    chainCase('diffpure', 100, 64, async (engine) => ({ denoiser: await franfee(engine) })),
    chainCase('agdm', 70, 64, withGuide),
    ...CIFAR_UNET_BATCHES.map((batch) => denoiserStepCase(CIFAR_UNET_LABEL, cifarBenchUnet, batch)),
  ];
}
