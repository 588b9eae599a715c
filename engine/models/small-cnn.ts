// A LeNet-style CNN for 28×28 (or any small) images, sized by config: [conv3×3 → ReLU → maxpool]
// per stage, then a hidden ReLU layer (the "latent" features) and the class logits. The project
// trains these itself: the downstream MNIST classifier f and the guidance network c_φ.
import { add, affine, avgPool2x2, crop2d, exp, linear, log, maxPool2x2, reshape, scale, silu, sub, upsampleNearest2x } from '../ops/index.ts';
import { conv2d } from '../ops/conv.ts';
import { ParamSpecs, fanInUniform, type Params } from '../nn/params.ts';
import type { Tensor } from '../tensor.ts';
import type { Classifier } from './types.ts';

export interface CnnConfig {
  inChannels: number;
  size: number;
  channels: number[];
  hidden: number;
  classes: number;
}

export const MNIST_CLASSIFIER: CnnConfig = { inChannels: 1, size: 28, channels: [32, 64], hidden: 128, classes: 10 };
export const MNIST_GUIDANCE: CnnConfig = { inChannels: 1, size: 28, channels: [16, 32], hidden: 64, classes: 10 };

/**
 * The config whose cnnSpecs match these weights' shapes (any widths and depth a training run chose),
 * for square inputs that halve exactly at every pool; null when the names or shapes do not fit.
 */
export function cnnConfigFromShapes(shapes: ReadonlyMap<string, readonly number[]>): CnnConfig | null {
  const channels: number[] = [];
  for (let i = 0; shapes.has(`conv${i}.weight`); i++) channels.push(shapes.get(`conv${i}.weight`)![0]);
  const hidden = shapes.get('hidden.weight');
  const out = shapes.get('out.weight');
  if (!channels.length || !hidden || !out) return null;
  const side = Math.sqrt(hidden[1] / channels[channels.length - 1]);
  if (!Number.isInteger(side)) return null;
  return { inChannels: shapes.get('conv0.weight')![1], size: side * 2 ** channels.length, channels, hidden: hidden[0], classes: out[0] };
}

function flatFeatures(cfg: CnnConfig): number {
  const size = cfg.channels.reduce((s) => Math.floor(s / 2), cfg.size);
  return cfg.channels[cfg.channels.length - 1] * size * size;
}

export function cnnSpecs(cfg: CnnConfig): ParamSpecs {
  const s = new ParamSpecs();
  let inC = cfg.inChannels;
  cfg.channels.forEach((c, i) => {
    s.add(`conv${i}.weight`, [c, inC, 3, 3], fanInUniform(inC * 9));
    s.add(`conv${i}.bias`, [c], fanInUniform(inC * 9));
    inC = c;
  });
  const flat = flatFeatures(cfg);
  s.add('hidden.weight', [cfg.hidden, flat], fanInUniform(flat));
  s.add('hidden.bias', [cfg.hidden], fanInUniform(flat));
  s.add('out.weight', [cfg.classes, cfg.hidden], fanInUniform(cfg.hidden));
  s.add('out.bias', [cfg.classes], fanInUniform(cfg.hidden));
  return s;
}

/**
 * ReLU's smooth surrogate silu(β·x)/β: within 0.28/β of ReLU everywhere, twice differentiable, so
 * AGDM's exact gradient (a Hessian-vector product through c_φ) has no kinks to shatter on.
 */
export function smoothRelu(x: Tensor, beta: number): Tensor {
  return scale(silu(scale(x, beta)), 1 / beta);
}

/**
 * Max pooling's smooth surrogate, each 2×2 window's (1/β)·log Σ exp(β·x): within ln 4/β above the
 * maximum (0 when one entry leads by a few 1/β), its gradient the window's softmax(β·x), so a guidance
 * gradient through it does not jump where max pooling's argmax switches. Shifted by the window
 * maximum m for f32 (exp ≤ 1); the value does not depend on m, so m's own gradient cancels.
 * Odd sizes drop the last row or column first, as max pooling does.
 */
export function smoothMaxPool2x2(x: Tensor, beta: number): Tensor {
  const [, , h, w] = x.shape;
  const even = h % 2 || w % 2 ? crop2d(x, 0, 0, h - (h % 2), w - (w % 2)) : x;
  const m = maxPool2x2(even);
  const windowMean = avgPool2x2(exp(scale(sub(even, upsampleNearest2x(m)), beta)));
  return add(m, scale(log(affine(windowMean, 4)), 1 / beta));
}

export function cnnClassifier(p: Params, cfg: CnnConfig, name: string, smoothBeta?: number): Classifier {
  if (smoothBeta !== undefined && !(smoothBeta > 0)) throw new RangeError(`${name}: the smooth surrogate's β must be positive, got ${smoothBeta}`);
  // The fused ReLU epilogues for the network itself; unfused smooth activations for its surrogate.
  const act = smoothBeta === undefined ? 'relu' : 'none';
  const after = (h: Tensor) => (smoothBeta === undefined ? h : smoothRelu(h, smoothBeta));
  const pool = (h: Tensor) => (smoothBeta === undefined ? maxPool2x2(h) : smoothMaxPool2x2(h, smoothBeta));
  const features = (x: Tensor) => {
    if (x.rank !== 4 || x.shape[1] !== cfg.inChannels || x.shape[2] !== cfg.size || x.shape[3] !== cfg.size) {
      throw new RangeError(`${name}: expected images [N, ${cfg.inChannels}, ${cfg.size}, ${cfg.size}], got [${x.shape}]`);
    }
    let h = x;
    cfg.channels.forEach((_, i) => {
      h = pool(after(conv2d(h, p.get(`conv${i}.weight`), p.get(`conv${i}.bias`), { padding: 1, activation: act })));
    });
    const hidden = after(linear(reshape(h, [x.shape[0], -1]), p.get('hidden.weight'), p.get('hidden.bias'), act));
    return { features: hidden, logits: linear(hidden, p.get('out.weight'), p.get('out.bias')) };
  };
  return {
    name: smoothBeta === undefined ? name : `${name} (ReLU → silu(${smoothBeta}x)/${smoothBeta}, max pool → (1/${smoothBeta})·log Σ exp(${smoothBeta}x))`,
    imageShape: [cfg.inChannels, cfg.size, cfg.size],
    classes: cfg.classes,
    params: p,
    logits: (x) => features(x).logits,
    features,
    smoothed: (beta) => cnnClassifier(p, cfg, name, beta),
  };
}
