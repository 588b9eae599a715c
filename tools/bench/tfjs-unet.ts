// The DDPM UNet of engine/models/ddpm-unet.ts written in TensorFlow.js ops (channels-last), so the
// --tfjs comparison times the same model with the same weights, not a kernel proxy. The case checks
// its output against the engine's before it is timed: a port that computes something else fails.
import { DDPM_CIFAR10, ddpmUnet, ddpmUnetSpecs, type DdpmUnetConfig } from '../../engine/models/ddpm-unet.ts';
import { timestepEmbedding } from '../../engine/ops/embedding.ts';
import type { TensorMap } from '../../engine/io/raw-tensor.ts';
import { Params } from '../../engine/nn/params.ts';
import type { Engine } from '../../engine/index.ts';
import { CIFAR_UNET_LABEL, CIFAR_UNET_SEED, denoiserStep } from './cases.ts';
import type { TfjsCase } from './tfjs.ts';

export interface UnetReference {
  cfg: DdpmUnetConfig;
  weights: TensorMap;
  /** [n, C, H, W] input, its time embedding rows [n, channels] (the engine's op) and the engine's ε̂, channel-major. */
  x: Float32Array;
  sinusoid: Float32Array;
  expected: Float32Array;
  images: number;
  label: string;
}

export function tfjsDdpmUnetCase(ref: UnetReference): TfjsCase {
  const { cfg, weights } = ref;
  const [n, c, h, w] = [ref.images, cfg.imageChannels, cfg.size, cfg.size];
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
      // Inputs in TF.js's channels-last layout, made once outside the timed runs.
      const x = tf.tidy(() => tf.transpose(tf.tensor(ref.x, [n, c, h, w]), [0, 2, 3, 1]));
      const rows = tf.tensor(ref.sinusoid, [n, cfg.channels]);
      const run = () => tf.tidy(() => forward(x, rows));
      return {
        run,
        dispose: () => tf.dispose([x, rows, ...prepared.values()]),
        async check(out: any) {
          const channelMajor = tf.transpose(out, [0, 3, 1, 2]);
          const got: Float32Array = await channelMajor.data();
          channelMajor.dispose();
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
  const step = denoiserStep(engine, ddpmUnet(params, cfg, label), batch);
  const eps = step.forward();
  const rows = timestepEmbedding(engine, step.t, cfg.channels, 'sin-cos', { downscaleFreqShift: 1 });
  try {
    const [weights, x, sinusoid, expected] = await Promise.all([params.toTensorMap(), step.x.read(), rows.read(), eps.read()]);
    return { cfg, weights, x, sinusoid, expected, images: batch, label };
  } finally {
    for (const t of [eps, rows, step, params]) t.dispose();
  }
}

/** The TF.js port of the bench's ddpm-cifar10 step: same random weights, same input. */
export async function tfjsCifarUnetCase(engine: Engine, batch: number): Promise<TfjsCase> {
  return tfjsDdpmUnetCase(await unetReference(engine, DDPM_CIFAR10, CIFAR_UNET_SEED, batch, CIFAR_UNET_LABEL));
}
