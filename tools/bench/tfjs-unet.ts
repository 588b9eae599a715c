// The DDPM UNet of engine/models/ddpm-unet.ts written in TensorFlow.js ops (channels-last), so the
// --tfjs comparison times the same model with the same weights, not a kernel proxy. The case checks
// its output against the engine's before it is timed: a port that computes something else fails.
import { DDPM_CIFAR10, ddpmUnetForward, ddpmUnetSpecs, type DdpmUnetConfig } from '../../engine/models/ddpm-unet.ts';
import type { TensorMap } from '../../engine/io/raw-tensor.ts';
import { Params } from '../../engine/nn/params.ts';
import type { Engine } from '../../engine/index.ts';
import { CIFAR_UNET_LABEL, CIFAR_UNET_SEED, randomTensor } from './cases.ts';
import type { TfjsCase } from './tfjs.ts';

export interface UnetReference {
  cfg: DdpmUnetConfig;
  weights: TensorMap;
  /** [n, C, H, W] input and the engine's ε̂ for it, channel-major. */
  x: Float32Array;
  t: number[];
  expected: Float32Array;
  images: number;
  label: string;
}

/** diffusers' [sin | cos] timestep embedding with downscale_freq_shift 1, in float64. */
function sinusoid(t: readonly number[], dim: number): Float32Array {
  const half = dim / 2;
  const out = new Float32Array(t.length * dim);
  t.forEach((step, b) => {
    for (let i = 0; i < half; i++) {
      const angle = step * Math.exp((-Math.log(10000) * i) / (half - 1));
      out[b * dim + i] = Math.sin(angle);
      out[b * dim + half + i] = Math.cos(angle);
    }
  });
  return out;
}

/** [n, C, H, W] → [n, H, W, C] or back. */
function permute(data: Float32Array, [n, a, b, c]: number[], order: 'nchw→nhwc' | 'nhwc→nchw'): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < a; p++)
      for (let q = 0; q < b; q++)
        for (let r = 0; r < c; r++) {
          const src = ((i * a + p) * b + q) * c + r;
          // nchw→nhwc: (p, q, r) = (C, H, W) goes to (H, W, C); nhwc→nchw: (H, W, C) goes to (C, H, W).
          const dst = order === 'nchw→nhwc' ? ((i * b + q) * c + r) * a + p : ((i * c + r) * a + p) * b + q;
          out[dst] = data[src];
        }
  return out;
}

export function tfjsDdpmUnetCase(ref: UnetReference): TfjsCase {
  const { cfg, weights } = ref;
  const [n, c, h, w] = [ref.t.length, cfg.imageChannels, cfg.size, cfg.size];
  return {
    op: `tfjs ${ref.label} UNet step`,
    shape: `batch ${n}`,
    images: ref.images,
    maxRepeats: 3,
    build(tf) {
      // Uploaded once, in TF.js's layouts (conv HWIO, linear [in, out]), outside the timed runs.
      const prepared = new Map<string, any>();
      for (const [name, raw] of weights) {
        const base = tf.tensor(raw.data as Float32Array, raw.shape);
        const order = raw.shape.length === 4 ? [2, 3, 1, 0] : raw.shape.length === 2 ? [1, 0] : null;
        prepared.set(name, order ? tf.transpose(base, order) : base);
        if (order) base.dispose();
      }
      const param = (name: string) => {
        const t = prepared.get(name);
        if (!t) throw new Error(`tfjs UNet: no weight ${name}`);
        return t;
      };
      const conv = (x: any, name: string, stride = 1, pad: any = 'same') => tf.add(tf.conv2d(x, param(`${name}.weight`), stride, pad), param(`${name}.bias`));
      const linear = (x: any, name: string) => tf.add(tf.matMul(x, param(`${name}.weight`)), param(`${name}.bias`));
      const silu = (x: any) => tf.mul(x, tf.sigmoid(x));
      const groupNorm = (x: any, name: string, withSilu: boolean) => {
        const [b, hh, ww, ch] = x.shape;
        const grouped = tf.reshape(x, [b, hh, ww, cfg.groups, ch / cfg.groups]);
        const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
        const normed = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, cfg.eps))), x.shape);
        const out = tf.add(tf.mul(normed, param(`${name}.weight`)), param(`${name}.bias`));
        return withSilu ? silu(out) : out;
      };
      const resnet = (x: any, name: string, timeAct: any) => {
        const time = linear(timeAct, `${name}.time_emb_proj`);
        const hidden = tf.add(conv(groupNorm(x, `${name}.norm1`, true), `${name}.conv1`), tf.reshape(time, [time.shape[0], 1, 1, time.shape[1]]));
        const shortcut = weights.has(`${name}.conv_shortcut.weight`) ? conv(x, `${name}.conv_shortcut`, 1, 'valid') : x;
        return tf.add(shortcut, conv(groupNorm(hidden, `${name}.norm2`, true), `${name}.conv2`));
      };
      const attention = (x: any, name: string) => {
        const [b, hh, ww, ch] = x.shape;
        const normed = tf.reshape(groupNorm(x, `${name}.group_norm`, false), [b, hh * ww, ch]);
        const project = (which: string) => linear(normed, `${name}.${which}`);
        const scores = tf.softmax(tf.mul(tf.matMul(project('to_q'), project('to_k'), false, true), 1 / Math.sqrt(ch)));
        return tf.add(x, tf.reshape(linear(tf.matMul(scores, project('to_v')), `${name}.to_out.0`), x.shape));
      };
      const L = cfg.multipliers.length;
      const attends = (level: number) => cfg.attentionResolutions.includes(cfg.size / 2 ** level);
      const forward = (x: any, sinusoidRows: any) => {
        const timeAct = silu(linear(silu(linear(sinusoidRows, 'time_embedding.linear_1')), 'time_embedding.linear_2'));
        let hcur = conv(x, 'conv_in');
        const skips = [hcur];
        for (let i = 0; i < L; i++) {
          for (let j = 0; j < cfg.resBlocks; j++) {
            hcur = resnet(hcur, `down_blocks.${i}.resnets.${j}`, timeAct);
            if (attends(i)) hcur = attention(hcur, `down_blocks.${i}.attentions.${j}`);
            skips.push(hcur);
          }
          if (i < L - 1) {
            const pad = cfg.downsamplePadding === 0 ? [[0, 0], [0, 1], [0, 1], [0, 0]] : [[0, 0], [1, 1], [1, 1], [0, 0]];
            skips.push((hcur = conv(tf.pad(hcur, pad), `down_blocks.${i}.downsamplers.0.conv`, 2, 'valid')));
          }
        }
        hcur = resnet(hcur, 'mid_block.resnets.0', timeAct);
        hcur = attention(hcur, 'mid_block.attentions.0');
        hcur = resnet(hcur, 'mid_block.resnets.1', timeAct);
        for (let j = 0; j < L; j++) {
          for (let k = 0; k <= cfg.resBlocks; k++) {
            hcur = resnet(tf.concat([hcur, skips.pop()], 3), `up_blocks.${j}.resnets.${k}`, timeAct);
            if (attends(L - 1 - j)) hcur = attention(hcur, `up_blocks.${j}.attentions.${k}`);
          }
          if (j < L - 1) {
            const [, hh, ww] = hcur.shape;
            hcur = conv(tf.image.resizeNearestNeighbor(hcur, [2 * hh, 2 * ww]), `up_blocks.${j}.upsamplers.0.conv`);
          }
        }
        return conv(groupNorm(hcur, 'conv_norm_out', true), 'conv_out');
      };
      const x = tf.tensor(permute(ref.x, [n, c, h, w], 'nchw→nhwc'), [n, h, w, c]);
      const rows = tf.tensor(sinusoid(ref.t, cfg.channels), [n, cfg.channels]);
      const run = () => tf.tidy(() => forward(x, rows));
      return {
        run,
        dispose: () => tf.dispose([x, rows, ...prepared.values()]),
        async check(out: any) {
          const got = permute(await out.data(), [n, h, w, c], 'nhwc→nchw');
          let maxErr = 0;
          let maxRef = 0;
          got.forEach((v, i) => {
            maxErr = Math.max(maxErr, Math.abs(v - ref.expected[i]));
            maxRef = Math.max(maxRef, Math.abs(ref.expected[i]));
          });
          return { maxErr, maxRef };
        },
      };
    },
  };
}

/** The engine's ε̂ for a random input at t = 50 under `cfg` with weights drawn from `seed`: what a port must reproduce. */
export async function unetReference(engine: Engine, cfg: DdpmUnetConfig, seed: number, batch: number, label: string): Promise<UnetReference> {
  const params = Params.init(engine, ddpmUnetSpecs(cfg), seed);
  const x = randomTensor(engine, [batch, cfg.imageChannels, cfg.size, cfg.size]);
  const t = new Array(batch).fill(50);
  try {
    const eps = ddpmUnetForward(params, cfg, x, t);
    const expected = await eps.read();
    eps.dispose();
    return { cfg, weights: await params.toTensorMap(), x: await x.read(), t, expected, images: batch, label };
  } finally {
    x.dispose();
    params.dispose();
  }
}

/** The TF.js port of the bench's ddpm-cifar10 step: same random weights, same input. */
export async function tfjsCifarUnetCase(engine: Engine, batch: number): Promise<TfjsCase> {
  return tfjsDdpmUnetCase(await unetReference(engine, DDPM_CIFAR10, CIFAR_UNET_SEED, batch, CIFAR_UNET_LABEL));
}
