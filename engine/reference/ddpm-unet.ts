// Float64 reference of diffusers' UNet2DModel as configured for Ho et al.'s DDPM checkpoints,
// composed from the op references. It follows diffusers' own module code (get_timestep_embedding,
// ResnetBlock2D, Attention with a group norm and a residual, Downsample2D, Upsample2D, blocks that
// return their output states, up blocks that take res_samples[-n:] and pop from the end) rather
// than engine/models/ddpm-unet.ts, so the two check each other.
import type { DdpmUnetConfig } from '../models/ddpm-unet.ts';
import { conv2d } from './conv.ts';
import { unary } from './elementwise.ts';
import { map, nd, type Nd } from './nd.ts';
import { add, linear, weight, type Weights } from './weights.ts';
import { attention, groupNorm } from './norm.ts';
import { apply, concatChannels, pad2d, upsampleNearest2x } from './spatial.ts';

const silu = (x: Nd) => map(x, unary.silu.f);

const conv = (w: Weights, name: string, x: Nd, stride = 1, padding = 1) => conv2d(x, weight(w, `${name}.weight`), weight(w, `${name}.bias`), { stride, padding });
const norm = (w: Weights, name: string, x: Nd, cfg: DdpmUnetConfig) => groupNorm(x, cfg.groups, weight(w, `${name}.weight`), weight(w, `${name}.bias`), cfg.eps);

/** [B, R, C] → [B, C, R]. */
function transposeLast(x: Nd): Nd {
  const [B, R, C] = x.shape;
  const out = nd([B, C, R]);
  for (let b = 0; b < B; b++) for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out.data[(b * C + c) * R + r] = x.data[(b * R + r) * C + c];
  return out;
}

/** get_timestep_embedding(t, dim, flip_sin_to_cos=False, downscale_freq_shift): [sin | cos]. */
export function sinusoidalEmbedding(t: number[], dim: number, shift: number, maxPeriod = 10000): Nd {
  const half = Math.floor(dim / 2);
  const out = nd([t.length, dim]);
  t.forEach((step, n) => {
    for (let i = 0; i < half; i++) {
      const arg = step * Math.exp((-Math.log(maxPeriod) * i) / (half - shift));
      out.data[n * dim + i] = Math.sin(arg);
      out.data[n * dim + half + i] = Math.cos(arg);
    }
  });
  return out;
}

/** TimestepEmbedding: linear_1 → SiLU → linear_2, applied to Timesteps(channels, False, 1). */
export function timeEmbeddingRef(w: Weights, cfg: DdpmUnetConfig, t: number[]): Nd {
  const sinusoid = sinusoidalEmbedding(t, cfg.channels, 1);
  return linear(w, 'time_embedding.linear_2', silu(linear(w, 'time_embedding.linear_1', sinusoid)));
}

/** ResnetBlock2D (time_embedding_norm 'default', output_scale_factor 1) given the raw time embedding. */
export function resnetBlockRef(w: Weights, cfg: DdpmUnetConfig, name: string, x: Nd, temb: Nd): Nd {
  let h = conv(w, `${name}.conv1`, silu(norm(w, `${name}.norm1`, x, cfg)));
  const time = linear(w, `${name}.time_emb_proj`, silu(temb));
  h = add(h, nd([...time.shape, 1, 1], time.data));
  h = conv(w, `${name}.conv2`, silu(norm(w, `${name}.norm2`, h, cfg)));
  const input = w.has(`${name}.conv_shortcut.weight`) ? conv(w, `${name}.conv_shortcut`, x, 1, 0) : x;
  return add(input, h);
}

/** Attention(heads=1, norm_num_groups, residual_connection=True) on [N, C, H, W]. */
export function attentionBlockRef(w: Weights, cfg: DdpmUnetConfig, name: string, x: Nd): Nd {
  const [N, C, H, W] = x.shape;
  const normed = norm(w, `${name}.group_norm`, x, cfg);
  const tokens = transposeLast(nd([N, C, H * W], normed.data));
  const [q, k, v] = ['to_q', 'to_k', 'to_v'].map((proj) => linear(w, `${name}.${proj}`, tokens));
  const out = linear(w, `${name}.to_out.0`, attention(q, k, v, 1 / Math.sqrt(C)));
  return add(nd(x.shape, transposeLast(out).data), x);
}

/** Downsample2D(use_conv=True, padding): padding 0 first pads one zero column right and row below. */
export function downsampleRef(w: Weights, cfg: DdpmUnetConfig, name: string, x: Nd): Nd {
  if (cfg.downsamplePadding === 1) return conv(w, name, x, 2, 1);
  return conv(w, name, apply(x, pad2d(x.shape, 0, 1, 0, 1)), 2, 0);
}

/** Upsample2D(use_conv=True): nearest ×2, conv 3×3. */
export function upsampleRef(w: Weights, name: string, x: Nd): Nd {
  return conv(w, name, apply(x, upsampleNearest2x(x.shape)));
}

export function ddpmUnetRef(w: Weights, cfg: DdpmUnetConfig, x: Nd, t: number[]): Nd {
  const L = cfg.multipliers.length;
  const attends = (level: number) => cfg.attentionResolutions.includes(cfg.size / 2 ** level);
  const emb = timeEmbeddingRef(w, cfg, t);
  let sample = conv(w, 'conv_in', x);
  let downBlockResSamples: Nd[] = [sample];
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < cfg.resBlocks; j++) {
      sample = resnetBlockRef(w, cfg, `down_blocks.${i}.resnets.${j}`, sample, emb);
      if (attends(i)) sample = attentionBlockRef(w, cfg, `down_blocks.${i}.attentions.${j}`, sample);
      downBlockResSamples.push(sample);
    }
    if (i < L - 1) {
      sample = downsampleRef(w, cfg, `down_blocks.${i}.downsamplers.0.conv`, sample);
      downBlockResSamples.push(sample);
    }
  }
  sample = resnetBlockRef(w, cfg, 'mid_block.resnets.0', sample, emb);
  sample = attentionBlockRef(w, cfg, 'mid_block.attentions.0', sample);
  sample = resnetBlockRef(w, cfg, 'mid_block.resnets.1', sample, emb);
  const layers = cfg.resBlocks + 1;
  for (let i = 0; i < L; i++) {
    const resSamples = downBlockResSamples.slice(-layers);
    downBlockResSamples = downBlockResSamples.slice(0, -layers);
    for (let j = 0; j < layers; j++) {
      sample = resnetBlockRef(w, cfg, `up_blocks.${i}.resnets.${j}`, concatChannels([sample, resSamples.pop()!]), emb);
      if (attends(L - 1 - i)) sample = attentionBlockRef(w, cfg, `up_blocks.${i}.attentions.${j}`, sample);
    }
    if (i < L - 1) sample = upsampleRef(w, `up_blocks.${i}.upsamplers.0.conv`, sample);
  }
  return conv(w, 'conv_out', silu(norm(w, 'conv_norm_out', sample, cfg)));
}
