// The MNIST DDPM noise predictor published by Franfee (MIT; weights in
// shared/data/weights/franfee-ddpm-mnist): a small residual UNet with LayerNorm over (C, H, W),
// ReLU, per-level time vectors added to the input, 2×2 stride-2 down-convs and 2×2 transposed
// up-convs. Parameter names and shapes follow the checkpoint exactly.
import { add, linear, matmul, reshape } from '../ops/index.ts';
import { conv2d, convTranspose2d } from '../ops/conv.ts';
import { concatChannels, pad2d } from '../ops/layout.ts';
import { oneHot } from '../ops/losses.ts';
import { layerNormCHW } from '../ops/norm.ts';
import { timestepEmbedding } from '../ops/embedding.ts';
import { ParamSpecs, Params, fanInUniform } from '../nn/params.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';

export interface FranfeeConfig {
  channels: number[];
  timeDim: number;
  steps: number;
  imageChannels: number;
  size: number;
}

export const FRANFEE_MNIST: FranfeeConfig = { channels: [10, 20, 40, 80], timeDim: 128, steps: 1000, imageChannels: 1, size: 28 };

/** Spatial size at each level: 28, 14, 7, 3 (floor halving, as a stride-2 2×2 conv gives). */
function levelSizes(cfg: FranfeeConfig): number[] {
  const sizes = [cfg.size];
  for (let i = 1; i < cfg.channels.length; i++) sizes.push(Math.floor(sizes[i - 1] / 2));
  return sizes;
}

function addLinear(s: ParamSpecs, name: string, inF: number, outF: number, bias = true): void {
  s.add(`${name}.weight`, [outF, inF], fanInUniform(inF));
  if (bias) s.add(`${name}.bias`, [outF], fanInUniform(inF));
}

function addConv(s: ParamSpecs, name: string, inC: number, outC: number, k: number, bias = true): void {
  s.add(`${name}.weight`, [outC, inC, k, k], fanInUniform(inC * k * k));
  if (bias) s.add(`${name}.bias`, [outC], fanInUniform(inC * k * k));
}

function addBlock(s: ParamSpecs, name: string, inC: number, outC: number, size: number): void {
  s.add(`${name}.ln.weight`, [inC, size, size], 'ones');
  s.add(`${name}.ln.bias`, [inC, size, size], 'zeros');
  addConv(s, `${name}.conv1`, inC, outC, 3);
  addConv(s, `${name}.conv2`, outC, outC, 3);
  if (inC !== outC) addConv(s, `${name}.residual_conv`, inC, outC, 1);
}

export function franfeeSpecs(cfg: FranfeeConfig = FRANFEE_MNIST): ParamSpecs {
  const s = new ParamSpecs();
  const sizes = levelSizes(cfg);
  const L = cfg.channels.length;
  // The sinusoidal table is part of the checkpoint; it is data, not a trained weight.
  s.add('pe.embedding.weight', [cfg.steps, cfg.timeDim], 'zeros', false);
  let prev = cfg.imageChannels;
  for (let i = 0; i < L - 1; i++) {
    const c = cfg.channels[i];
    addLinear(s, `pe_linears_en.${i}.0`, cfg.timeDim, prev);
    addLinear(s, `pe_linears_en.${i}.2`, prev, prev);
    addBlock(s, `encoders.${i}.0`, prev, c, sizes[i]);
    addBlock(s, `encoders.${i}.1`, c, c, sizes[i]);
    addConv(s, `downs.${i}`, c, c, 2);
    prev = c;
  }
  addLinear(s, 'pe_mid', cfg.timeDim, prev);
  addBlock(s, 'mid.0', prev, cfg.channels[L - 1], sizes[L - 1]);
  addBlock(s, 'mid.1', cfg.channels[L - 1], cfg.channels[L - 1], sizes[L - 1]);
  prev = cfg.channels[L - 1];
  for (let j = 0; j < L - 1; j++) {
    const level = L - 2 - j;
    const c = cfg.channels[level];
    addLinear(s, `pe_linears_de.${j}`, cfg.timeDim, prev);
    s.add(`ups.${j}.weight`, [prev, c, 2, 2], fanInUniform(c * 4));
    s.add(`ups.${j}.bias`, [c], fanInUniform(c * 4));
    addBlock(s, `decoders.${j}.0`, 2 * c, c, sizes[level]);
    addBlock(s, `decoders.${j}.1`, c, c, sizes[level]);
    prev = c;
  }
  addConv(s, 'conv_out', prev, cfg.imageChannels, 3);
  return s;
}

/** Untrained weights (PyTorch's default initialisers, seeded) with the sinusoidal table filled in, as the checkpoint stores it. */
export function franfeeInit(engine: Engine, cfg: FranfeeConfig = FRANFEE_MNIST, seed = 0): Params {
  const p = Params.init(engine, franfeeSpecs(cfg), seed);
  const steps = Array.from({ length: cfg.steps }, (_, t) => t);
  p.replace('pe.embedding.weight', timestepEmbedding(engine, steps, cfg.timeDim, 'interleaved'));
  return p;
}

function block(p: Params, name: string, x: Tensor): Tensor {
  const h = layerNormCHW(x, p.get(`${name}.ln.weight`), p.get(`${name}.ln.bias`), 1e-5);
  const h1 = conv2d(h, p.get(`${name}.conv1.weight`), p.get(`${name}.conv1.bias`), { padding: 1, activation: 'relu' });
  const skip = p.has(`${name}.residual_conv.weight`) ? conv2d(x, p.get(`${name}.residual_conv.weight`), p.get(`${name}.residual_conv.bias`)) : x;
  return conv2d(h1, p.get(`${name}.conv2.weight`), p.get(`${name}.conv2.bias`), { padding: 1, residual: skip, activation: 'relu' });
}

/** A per-sample time vector [n, C] broadcast over H and W. */
const asChannelBias = (v: Tensor) => reshape(v, [v.shape[0], v.shape[1], 1, 1]);

/** Predicts ε for x_t (images in [0, 1] model space, see README quirk) at 0-based steps t (one per image). */
export function franfeeForward(p: Params, cfg: FranfeeConfig, x: Tensor, t: number[]): Tensor {
  const n = x.shape[0];
  if (t.length !== n) throw new RangeError(`franfee: ${t.length} timesteps for a batch of ${n}`);
  const L = cfg.channels.length;
  const emb = matmul(oneHot(x.engine, t, cfg.steps), p.get('pe.embedding.weight'));
  // The time vectors of the encoder levels and the middle, [n, C] each: every level but the first
  // gets its vector from the down-conv before it, added in that conv's epilogue.
  const levelTime = [
    ...Array.from({ length: L - 1 }, (_, i) => linear(linear(emb, p.get(`pe_linears_en.${i}.0.weight`), p.get(`pe_linears_en.${i}.0.bias`), 'relu'), p.get(`pe_linears_en.${i}.2.weight`), p.get(`pe_linears_en.${i}.2.bias`))),
    linear(emb, p.get('pe_mid.weight'), p.get('pe_mid.bias')),
  ];
  const skips: Tensor[] = [];
  let h = add(x, asChannelBias(levelTime[0]));
  for (let i = 0; i < L - 1; i++) {
    h = block(p, `encoders.${i}.1`, block(p, `encoders.${i}.0`, h));
    skips.push(h);
    h = conv2d(h, p.get(`downs.${i}.weight`), p.get(`downs.${i}.bias`), { stride: 2, sampleBias: levelTime[i + 1] });
  }
  h = block(p, 'mid.1', block(p, 'mid.0', h));
  for (let j = 0; j < L - 1; j++) {
    const skip = skips[L - 2 - j];
    const pe = linear(emb, p.get(`pe_linears_de.${j}.weight`), p.get(`pe_linears_de.${j}.bias`));
    h = convTranspose2d(h, p.get(`ups.${j}.weight`), p.get(`ups.${j}.bias`), { stride: 2 });
    const dy = skip.shape[2] - h.shape[2];
    const dx = skip.shape[3] - h.shape[3];
    if (dy || dx) h = pad2d(h, { top: Math.floor(dy / 2), bottom: dy - Math.floor(dy / 2), left: Math.floor(dx / 2), right: dx - Math.floor(dx / 2) });
    h = concatChannels([skip, h]);
    h = block(p, `decoders.${j}.1`, block(p, `decoders.${j}.0`, add(h, asChannelBias(pe))));
  }
  return conv2d(h, p.get('conv_out.weight'), p.get('conv_out.bias'), { padding: 1 });
}
