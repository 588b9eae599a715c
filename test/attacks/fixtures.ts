// Small but real models for attack tests: a random-init CNN classifier and a two-conv ε-model with a
// learned time bias on a short schedule, both on 8×8 images, fast enough for finite differences.
import { linearSchedule } from '../../engine/diffusion/schedule.ts';
import { cnnClassifier, cnnSpecs, type CnnConfig } from '../../engine/models/small-cnn.ts';
import type { Classifier, Denoiser } from '../../engine/models/types.ts';
import { ParamSpecs, Params, fanInUniform } from '../../engine/nn/params.ts';
import { add, avgPool2x2, linear, matmul, oneHot, reshape, scale, silu } from '../../engine/ops/index.ts';
import { conv2d } from '../../engine/ops/conv.ts';
import { randn } from '../helpers/check.ts';
import type { Engine } from '../../engine/runtime.ts';
import type { Tensor } from '../../engine/tensor.ts';

export const SIZE = 8;
export const TINY_T = 20;
const CLASSIFIER: CnnConfig = { inChannels: 1, size: SIZE, channels: [6], hidden: 16, classes: 10 };
const GUIDE: CnnConfig = { inChannels: 1, size: SIZE, channels: [4], hidden: 12, classes: 10 };

/**
 * A random CNN with every parameter doubled: PyTorch's default init gives nearly input-independent
 * logits on such a small net, which no attack can move; four doubled layers make it decisive.
 */
export function tinyClassifier(engine: Engine, seed: number, guide = false): Classifier {
  const cfg = guide ? GUIDE : CLASSIFIER;
  const specs = cnnSpecs(cfg);
  const p = Params.init(engine, specs, seed);
  for (const { name } of specs.list) p.replace(name, scale(p.get(name), 2));
  return cnnClassifier(p, cfg, guide ? 'tiny-guide' : 'tiny-cnn');
}

/** A smooth classifier (linear → SiLU → linear): no ReLU or max-pool kinks for finite differences to cross. */
export function smoothClassifier(engine: Engine, seed: number): Classifier {
  const pixels = SIZE * SIZE;
  const hidden = 16;
  const specs = new ParamSpecs()
    .add('hidden.weight', [hidden, pixels], { normal: 3 / Math.sqrt(pixels) })
    .add('hidden.bias', [hidden], { normal: 0.5 })
    .add('out.weight', [10, hidden], { normal: 2 / Math.sqrt(hidden) })
    .add('out.bias', [10], { normal: 0.1 });
  const p = Params.init(engine, specs, seed);
  return {
    name: 'smooth-mlp',
    imageShape: [1, SIZE, SIZE],
    classes: 10,
    params: p,
    logits: (x) => linear(silu(linear(reshape(x, [x.shape[0], pixels]), p.get('hidden.weight'), p.get('hidden.bias'))), p.get('out.weight'), p.get('out.bias')),
  };
}

/**
 * A smooth CNN guide c_φ (conv 3×3 → SiLU → 2×2 average pool → SiLU hidden features → logits): the
 * real guide's shape with every kink removed, so finite differences can check gradients through
 * its gradient (AGDM's exact chain gradient) to f32 precision.
 */
export function smoothGuide(engine: Engine, seed: number): Classifier {
  const channels = 4, hidden = 12, flat = channels * (SIZE / 2) ** 2;
  const specs = new ParamSpecs()
    .add('conv.weight', [channels, 1, 3, 3], { normal: 2 / 3 })
    .add('conv.bias', [channels], { normal: 0.3 })
    .add('hidden.weight', [hidden, flat], { normal: 3 / Math.sqrt(flat) })
    .add('hidden.bias', [hidden], { normal: 0.3 })
    .add('out.weight', [10, hidden], { normal: 3 / Math.sqrt(hidden) })
    .add('out.bias', [10], { normal: 0.1 });
  const p = Params.init(engine, specs, seed);
  const features = (x: Tensor) => {
    const h = avgPool2x2(silu(conv2d(x, p.get('conv.weight'), p.get('conv.bias'), { padding: 1 })));
    const f = silu(linear(reshape(h, [x.shape[0], flat]), p.get('hidden.weight'), p.get('hidden.bias')));
    return { features: f, logits: linear(f, p.get('out.weight'), p.get('out.bias')) };
  };
  return { name: 'smooth-guide', imageShape: [1, SIZE, SIZE], classes: 10, params: p, logits: (x) => features(x).logits, features };
}

export function tinyDenoiser(engine: Engine, seed: number): Denoiser {
  const hidden = 4;
  const specs = new ParamSpecs()
    .add('conv1.weight', [hidden, 1, 3, 3], fanInUniform(9))
    .add('conv1.bias', [hidden], fanInUniform(9))
    .add('time', [TINY_T, hidden], { normal: 0.5 })
    .add('conv2.weight', [1, hidden, 3, 3], fanInUniform(9 * hidden))
    .add('conv2.bias', [1], fanInUniform(9 * hidden));
  const p = Params.init(engine, specs, seed);
  return {
    name: 'tiny-denoiser',
    imageShape: [1, SIZE, SIZE],
    dataRange: 'unit',
    schedule: linearSchedule(TINY_T, 1e-3, 0.05),
    params: p,
    predictEps: (x, t) => {
      const timeBias = reshape(matmul(oneHot(engine, t, TINY_T), p.get('time')), [t.length, hidden, 1, 1]);
      const h = silu(add(conv2d(x, p.get('conv1.weight'), p.get('conv1.bias'), { padding: 1 }), timeBias));
      return conv2d(h, p.get('conv2.weight'), p.get('conv2.bias'), { padding: 1 });
    },
  };
}

/** Images in [0.25, 0.75]: away from the box edges, and purified images rarely reach them either. */
export function tinyImages(random: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n * SIZE * SIZE }, () => 0.25 + 0.5 * random());
}

/** A random unit direction. */
export function unitDirection(random: () => number, n: number): Float32Array {
  const raw = randn(random, n);
  const norm = Math.hypot(...raw);
  return Float32Array.from(raw, (r) => r / norm);
}

/**
 * Checks ⟨grad, v⟩ against a central difference of `loss` along the unit direction v, with the
 * error measured against ‖grad‖ (the largest a directional derivative can be), so a direction
 * nearly orthogonal to the gradient does not turn f32 noise into a large relative error. A step
 * that straddles a kink (ReLU, max-pool, the purifier's final clamp to [0, 1]) is retried at a
 * quarter of the step, which is four times less likely to straddle one. A kink at x itself (a
 * purified pixel within 1e-6 of the clamp: seed 663145737) defeats every step; there the gradient is
 * a one-sided derivative, accepted when it matches one side and the two sides disagree by far more
 * than a smooth function's curvature could make them (|f''|·h, well under 2·tol at these steps).
 */
export async function checkDirectional(name: string, grad: Float32Array, x: Float32Array, v: Float32Array, loss: (x: Float32Array) => Promise<number>, h: number, tol: number): Promise<number> {
  const analytic = grad.reduce((s, g, i) => s + g * v[i], 0);
  const scale = Math.hypot(...grad);
  const along = (step: number) => loss(x.map((p, i) => p + step * v[i]));
  let fd = NaN;
  let err = Infinity;
  let step = h;
  let ends: [number, number] = [NaN, NaN];
  for (step of [h, h / 4]) {
    ends = [await along(step), await along(-step)];
    fd = (ends[0] - ends[1]) / (2 * step);
    err = Math.abs(analytic - fd) / scale;
    console.log(`    ${name.padEnd(48)} ⟨∇L, v⟩ ${analytic.toExponential(3)}  finite diff (h=${step.toExponential(1)}) ${fd.toExponential(3)}  |Δ|/‖∇L‖ ${err.toExponential(2)}`);
    if (err <= tol) return err;
  }
  const here = await along(0);
  const [forward, backward] = [(ends[0] - here) / step, (here - ends[1]) / step];
  const sideErr = Math.min(Math.abs(analytic - forward), Math.abs(analytic - backward)) / scale;
  const kink = Math.abs(forward - backward) / scale;
  console.log(`    ${name.padEnd(48)} one-sided (h=${step.toExponential(1)}) forward ${forward.toExponential(3)} backward ${backward.toExponential(3)}: sides differ ${kink.toExponential(2)}, nearer side |Δ|/‖∇L‖ ${sideErr.toExponential(2)}`);
  if (kink > 2 * tol && sideErr <= tol) return sideErr;
  throw new Error(`${name}: directional derivative ${analytic} vs finite difference ${fd} (|Δ|/‖∇L‖ = ${err} > ${tol})`);
}
