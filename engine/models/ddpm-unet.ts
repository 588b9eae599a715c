// The DDPM noise predictor of Ho et al. (2020) with the parameter names of diffusers'
// UNet2DModel (google/ddpm-cifar10-32 and its siblings): conv_in; levels of ResnetBlock2D (GroupNorm
// → SiLU → conv3×3, plus a projection of the time embedding, → GroupNorm → SiLU → conv3×3, plus a
// 1×1 shortcut when channels change), single-head self-attention after each resnet at chosen
// resolutions, stride-2 conv downsampling; a resnet–attention–resnet middle; up levels with one more
// resnet than down, each eating one skip concatenated after the running features, nearest ×2 then
// conv3×3 upsampling; GroupNorm → SiLU → conv3×3 out. Time: diffusers' Timesteps(ch, [sin | cos],
// downscale_freq_shift 1) → Linear(ch → 4ch) → SiLU → Linear(4ch → 4ch).
import { linearSchedule } from '../diffusion/schedule.ts';
import { WeightFormatError, type TensorMap } from '../io/raw-tensor.ts';
import { ParamSpecs, fanInUniform, type Params } from '../nn/params.ts';
import { add, linear, matmul, reshape } from '../ops/index.ts';
import { scaledDotProductAttention } from '../ops/attention.ts';
import { conv2d } from '../ops/conv.ts';
import { timestepEmbedding } from '../ops/embedding.ts';
import { concatChannels } from '../ops/layout.ts';
import { groupNorm } from '../ops/norm.ts';
import { upsampleNearest2x } from '../ops/pool.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import type { Denoiser } from './types.ts';

export interface DdpmUnetConfig {
  imageChannels: number;
  /** The nominal image size; attentionResolutions refer to it halved once per level. */
  size: number;
  /** Channels of the first level (also the sinusoid width; the time MLP is 4× as wide). */
  channels: number;
  /** Level i has channels · multipliers[i] channels and runs at size / 2^i. */
  multipliers: number[];
  /** Resnets per level going down; going up has one more, for the extra skip. */
  resBlocks: number;
  /** Level sizes at which every resnet is followed by self-attention. */
  attentionResolutions: number[];
  groups: number;
  eps: number;
  /**
   * diffusers' downsample_padding. 0 (Ho et al.'s checkpoints): TensorFlow 'SAME', one zero row and
   * column after the image; 1: one on every side.
   */
  downsamplePadding: 0 | 1;
  steps: number;
}

/** google/ddpm-cifar10-32: 35,746,307 parameters. */
export const DDPM_CIFAR10: DdpmUnetConfig = {
  imageChannels: 3,
  size: 32,
  channels: 128,
  multipliers: [1, 2, 2, 2],
  resBlocks: 2,
  attentionResolutions: [16],
  groups: 32,
  eps: 1e-6,
  downsamplePadding: 0,
  steps: 1000,
};

interface ResnetShape {
  name: string;
  inC: number;
  outC: number;
}

interface LevelShape {
  resnets: ResnetShape[];
  /** One attention block per resnet, named like it. */
  attentions: string[];
  /** The conv of the level's down- or upsampler; absent on the last level down and the last up. */
  resample?: { name: string; channels: number };
}

/** The module tree, with the skip channels each up resnet concatenates worked out once. */
function unetShape(cfg: DdpmUnetConfig) {
  const levelChannels = cfg.multipliers.map((m) => m * cfg.channels);
  const L = levelChannels.length;
  const attends = (level: number) => cfg.attentionResolutions.includes(cfg.size / 2 ** level);
  const skips = [cfg.channels];
  let c = cfg.channels;
  const down: LevelShape[] = levelChannels.map((outC, i) => {
    const prefix = `down_blocks.${i}`;
    const resnets = Array.from({ length: cfg.resBlocks }, (_, j) => {
      const shape = { name: `${prefix}.resnets.${j}`, inC: c, outC };
      c = outC;
      skips.push(c);
      return shape;
    });
    const resample = i < L - 1 ? { name: `${prefix}.downsamplers.0.conv`, channels: c } : undefined;
    if (resample) skips.push(c);
    return { resnets, attentions: attends(i) ? resnets.map((_, j) => `${prefix}.attentions.${j}`) : [], resample };
  });
  const mid = levelChannels[L - 1];
  const up: LevelShape[] = levelChannels.map((_, j) => {
    const level = L - 1 - j;
    const prefix = `up_blocks.${j}`;
    const resnets = Array.from({ length: cfg.resBlocks + 1 }, (_, k) => {
      const shape = { name: `${prefix}.resnets.${k}`, inC: c + skips.pop()!, outC: levelChannels[level] };
      c = shape.outC;
      return shape;
    });
    const resample = j < L - 1 ? { name: `${prefix}.upsamplers.0.conv`, channels: c } : undefined;
    return { resnets, attentions: attends(level) ? resnets.map((_, k) => `${prefix}.attentions.${k}`) : [], resample };
  });
  return { down, mid, up };
}

function addLinear(s: ParamSpecs, name: string, inF: number, outF: number): void {
  s.add(`${name}.weight`, [outF, inF], fanInUniform(inF));
  s.add(`${name}.bias`, [outF], fanInUniform(inF));
}

function addConv(s: ParamSpecs, name: string, inC: number, outC: number, k: number): void {
  s.add(`${name}.weight`, [outC, inC, k, k], fanInUniform(inC * k * k));
  s.add(`${name}.bias`, [outC], fanInUniform(inC * k * k));
}

function addGroupNorm(s: ParamSpecs, name: string, c: number): void {
  s.add(`${name}.weight`, [c], 'ones');
  s.add(`${name}.bias`, [c], 'zeros');
}

function addResnet(s: ParamSpecs, r: ResnetShape, timeDim: number): void {
  addGroupNorm(s, `${r.name}.norm1`, r.inC);
  addConv(s, `${r.name}.conv1`, r.inC, r.outC, 3);
  addLinear(s, `${r.name}.time_emb_proj`, timeDim, r.outC);
  addGroupNorm(s, `${r.name}.norm2`, r.outC);
  addConv(s, `${r.name}.conv2`, r.outC, r.outC, 3);
  if (r.inC !== r.outC) addConv(s, `${r.name}.conv_shortcut`, r.inC, r.outC, 1);
}

function addAttention(s: ParamSpecs, name: string, c: number): void {
  addGroupNorm(s, `${name}.group_norm`, c);
  for (const proj of ['to_q', 'to_k', 'to_v', 'to_out.0']) addLinear(s, `${name}.${proj}`, c, c);
}

function addLevel(s: ParamSpecs, level: LevelShape, timeDim: number): void {
  level.resnets.forEach((r, j) => {
    addResnet(s, r, timeDim);
    if (level.attentions.length) addAttention(s, level.attentions[j], r.outC);
  });
  if (level.resample) addConv(s, level.resample.name, level.resample.channels, level.resample.channels, 3);
}

export function ddpmUnetSpecs(cfg: DdpmUnetConfig = DDPM_CIFAR10): ParamSpecs {
  const s = new ParamSpecs();
  const shape = unetShape(cfg);
  const timeDim = 4 * cfg.channels;
  addConv(s, 'conv_in', cfg.imageChannels, cfg.channels, 3);
  addLinear(s, 'time_embedding.linear_1', cfg.channels, timeDim);
  addLinear(s, 'time_embedding.linear_2', timeDim, timeDim);
  for (const level of shape.down) addLevel(s, level, timeDim);
  addResnet(s, { name: 'mid_block.resnets.0', inC: shape.mid, outC: shape.mid }, timeDim);
  addAttention(s, 'mid_block.attentions.0', shape.mid);
  addResnet(s, { name: 'mid_block.resnets.1', inC: shape.mid, outC: shape.mid }, timeDim);
  for (const level of shape.up) addLevel(s, level, timeDim);
  addGroupNorm(s, 'conv_norm_out', cfg.channels);
  addConv(s, 'conv_out', cfg.channels, cfg.imageChannels, 3);
  return s;
}

const LEGACY_ATTENTION = /^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$/;
const MODERN_ATTENTION: Record<string, string> = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' };

/** Renames the attention weights of checkpoints saved before diffusers 0.14 (query/key/value/proj_attn). */
export function ddpmStateDict(weights: TensorMap): TensorMap {
  const renamed: TensorMap = new Map();
  const sourceOf = new Map<string, string>();
  for (const [key, tensor] of weights) {
    const m = key.match(LEGACY_ATTENTION);
    const name = m ? `${m[1]}.${MODERN_ATTENTION[m[2]]}.${m[3]}` : key;
    if (sourceOf.has(name)) throw new WeightFormatError(`${sourceOf.get(name)} and ${key} both name ${name}`);
    sourceOf.set(name, key);
    renamed.set(name, tensor);
  }
  return renamed;
}

/** Frees a block's intermediates as soon as it returns, unless a gradient tape needs them. */
const block = <T>(engine: Engine, f: () => T): T => (engine.tape ? f() : engine.scope(f));

/** SiLU of the time MLP's output [n, 4ch]: every resnet applies SiLU to the embedding first, so it happens once here. */
export function ddpmTimeEmbedding(p: Params, cfg: DdpmUnetConfig, t: number[]): Tensor {
  return block(p.engine, () => {
    const sinusoid = timestepEmbedding(p.engine, t, cfg.channels, 'sin-cos', { downscaleFreqShift: 1 });
    const hidden = linear(sinusoid, p.get('time_embedding.linear_1.weight'), p.get('time_embedding.linear_1.bias'), 'silu');
    return linear(hidden, p.get('time_embedding.linear_2.weight'), p.get('time_embedding.linear_2.bias'), 'silu');
  });
}

/** ResnetBlock2D; `timeAct` is ddpmTimeEmbedding's output. */
export function resnetBlock(p: Params, cfg: DdpmUnetConfig, name: string, x: Tensor, timeAct: Tensor): Tensor {
  return block(x.engine, () => {
    const norm = (h: Tensor, which: string) => groupNorm(h, cfg.groups, p.get(`${name}.${which}.weight`), p.get(`${name}.${which}.bias`), { eps: cfg.eps, silu: true });
    const conv = (h: Tensor, which: string, padding: number) => conv2d(h, p.get(`${name}.${which}.weight`), p.get(`${name}.${which}.bias`), { padding });
    const time = linear(timeAct, p.get(`${name}.time_emb_proj.weight`), p.get(`${name}.time_emb_proj.bias`));
    const h = add(conv(norm(x, 'norm1'), 'conv1', 1), reshape(time, [time.shape[0], time.shape[1], 1, 1]));
    const shortcut = p.has(`${name}.conv_shortcut.weight`) ? conv(x, 'conv_shortcut', 0) : x;
    return add(shortcut, conv(norm(h, 'norm2'), 'conv2', 1));
  });
}

/**
 * diffusers Attention with one head over the H·W positions: x + to_out(softmax(q·kᵀ/√C)·v), with
 * q, k, v projections of GroupNorm(x). The projections read the [n, C, HW] features transposed, and
 * to_out writes them back channel-major, so no transpose is ever materialised.
 */
export function attentionBlock(p: Params, cfg: DdpmUnetConfig, name: string, x: Tensor): Tensor {
  return block(x.engine, () => {
    const [n, c, hgt, wid] = x.shape;
    const w = (which: string) => p.get(`${name}.${which}.weight`);
    const b = (which: string) => p.get(`${name}.${which}.bias`);
    const normed = reshape(groupNorm(x, cfg.groups, w('group_norm'), b('group_norm'), { eps: cfg.eps }), [n, c, hgt * wid]);
    const project = (which: string) => matmul(normed, w(which), { transA: true, transB: true, bias: b(which) });
    const attended = scaledDotProductAttention(project('to_q'), project('to_k'), project('to_v'), 1 / Math.sqrt(c));
    const out = add(matmul(w('to_out.0'), attended, { transB: true }), reshape(b('to_out.0'), [c, 1]));
    return add(x, reshape(out, x.shape));
  });
}

export function downsample(p: Params, cfg: DdpmUnetConfig, name: string, x: Tensor): Tensor {
  const padding: [number, number, number, number] = cfg.downsamplePadding === 0 ? [0, 1, 0, 1] : [1, 1, 1, 1];
  return conv2d(x, p.get(`${name}.weight`), p.get(`${name}.bias`), { stride: 2, padding });
}

export function upsample(p: Params, name: string, x: Tensor): Tensor {
  return block(x.engine, () => conv2d(upsampleNearest2x(x), p.get(`${name}.weight`), p.get(`${name}.bias`), { padding: 1 }));
}

/** ε̂ for x_t (model space [−1, 1]) at 0-based steps t, one per image. */
export function ddpmUnetForward(p: Params, cfg: DdpmUnetConfig, x: Tensor, t: number[]): Tensor {
  if (t.length !== x.shape[0]) throw new RangeError(`ddpm-unet: ${t.length} timesteps for a batch of ${x.shape[0]}`);
  const shape = unetShape(cfg);
  const timeAct = ddpmTimeEmbedding(p, cfg, t);
  const resnetThenAttention = (level: LevelShape, j: number, h: Tensor) => {
    const out = resnetBlock(p, cfg, level.resnets[j].name, h, timeAct);
    return level.attentions.length ? attentionBlock(p, cfg, level.attentions[j], out) : out;
  };
  let h = conv2d(x, p.get('conv_in.weight'), p.get('conv_in.bias'), { padding: 1 });
  const skips = [h];
  for (const level of shape.down) {
    level.resnets.forEach((_, j) => skips.push((h = resnetThenAttention(level, j, h))));
    if (level.resample) skips.push((h = downsample(p, cfg, level.resample.name, h)));
  }
  h = resnetBlock(p, cfg, 'mid_block.resnets.0', h, timeAct);
  h = attentionBlock(p, cfg, 'mid_block.attentions.0', h);
  h = resnetBlock(p, cfg, 'mid_block.resnets.1', h, timeAct);
  for (const level of shape.up) {
    level.resnets.forEach((_, j) => (h = block(p.engine, () => resnetThenAttention(level, j, concatChannels([h, skips.pop()!])))));
    if (level.resample) h = upsample(p, level.resample.name, h);
  }
  return block(p.engine, () => {
    const normed = groupNorm(h, cfg.groups, p.get('conv_norm_out.weight'), p.get('conv_norm_out.bias'), { eps: cfg.eps, silu: true });
    return conv2d(normed, p.get('conv_out.weight'), p.get('conv_out.bias'), { padding: 1 });
  });
}

export function ddpmUnet(p: Params, cfg: DdpmUnetConfig = DDPM_CIFAR10, name = 'ddpm-cifar10'): Denoiser {
  return {
    name,
    imageShape: [cfg.imageChannels, cfg.size, cfg.size],
    dataRange: 'symmetric',
    schedule: linearSchedule(cfg.steps),
    params: p,
    predictEps: (x, t) => ddpmUnetForward(p, cfg, x, t),
  };
}
