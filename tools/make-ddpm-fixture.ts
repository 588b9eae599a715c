// Writes a randomly initialised safetensors file with exactly the tensor names and shapes of
// google/ddpm-cifar10-32 (diffusers UNet2DModel, 35,746,307 parameters), for loader tests: the real
// checkpoint cannot be fetched here. The module list is spelled out by hand from diffusers' block
// classes, not derived from engine/models/ddpm-unet.ts, so that the two check each other.
// Usage: node --import tsx tools/make-ddpm-fixture.ts OUT.safetensors [--legacy-attention-names]
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { TensorMap } from '../engine/io/raw-tensor.ts';
import { writeSafetensors } from '../engine/io/safetensors.ts';

/** [name, input channels, output channels] of every ResnetBlock2D; in ≠ out adds a 1×1 conv_shortcut. */
const RESNETS: [string, number, number][] = [
  ['down_blocks.0.resnets.0', 128, 128], ['down_blocks.0.resnets.1', 128, 128],
  ['down_blocks.1.resnets.0', 128, 256], ['down_blocks.1.resnets.1', 256, 256],
  ['down_blocks.2.resnets.0', 256, 256], ['down_blocks.2.resnets.1', 256, 256],
  ['down_blocks.3.resnets.0', 256, 256], ['down_blocks.3.resnets.1', 256, 256],
  ['mid_block.resnets.0', 256, 256], ['mid_block.resnets.1', 256, 256],
  // Up resnets read the running features (first) concatenated with a skip popped off the down path:
  // skips are conv_in 128, down 0: 128 128 128(downsampler), down 1: 256 256 256, down 2: 256 256 256, down 3: 256 256.
  ['up_blocks.0.resnets.0', 512, 256], ['up_blocks.0.resnets.1', 512, 256], ['up_blocks.0.resnets.2', 512, 256],
  ['up_blocks.1.resnets.0', 512, 256], ['up_blocks.1.resnets.1', 512, 256], ['up_blocks.1.resnets.2', 512, 256],
  ['up_blocks.2.resnets.0', 512, 256], ['up_blocks.2.resnets.1', 512, 256], ['up_blocks.2.resnets.2', 384, 256],
  ['up_blocks.3.resnets.0', 384, 128], ['up_blocks.3.resnets.1', 256, 128], ['up_blocks.3.resnets.2', 256, 128],
];

/** Single-head attention blocks, all on 256 channels: AttnDownBlock2D (16×16), the middle, AttnUpBlock2D. */
const ATTENTIONS = [
  'down_blocks.1.attentions.0', 'down_blocks.1.attentions.1', 'mid_block.attentions.0',
  'up_blocks.2.attentions.0', 'up_blocks.2.attentions.1', 'up_blocks.2.attentions.2',
];

/** Downsample2D / Upsample2D convs (3×3, channels unchanged). */
const RESAMPLERS: [string, number][] = [
  ['down_blocks.0.downsamplers.0.conv', 128], ['down_blocks.1.downsamplers.0.conv', 256], ['down_blocks.2.downsamplers.0.conv', 256],
  ['up_blocks.0.upsamplers.0.conv', 256], ['up_blocks.1.upsamplers.0.conv', 256], ['up_blocks.2.upsamplers.0.conv', 256],
];

/**
 * Every tensor name and shape of google/ddpm-cifar10-32. `legacyAttentionNames` gives the
 * checkpoints saved before diffusers 0.14 (query/key/value/proj_attn instead of to_q/to_k/to_v/to_out.0).
 */
export function ddpmCifar10Shapes(legacyAttentionNames = false): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const affine = (name: string, weight: number[]) => {
    shapes.set(`${name}.weight`, weight);
    shapes.set(`${name}.bias`, [weight[0]]);
  };
  const conv = (name: string, inC: number, outC: number, k: number) => affine(name, [outC, inC, k, k]);
  affine('time_embedding.linear_1', [512, 128]);
  affine('time_embedding.linear_2', [512, 512]);
  conv('conv_in', 3, 128, 3);
  for (const [name, inC, outC] of RESNETS) {
    affine(`${name}.norm1`, [inC]);
    conv(`${name}.conv1`, inC, outC, 3);
    affine(`${name}.time_emb_proj`, [outC, 512]);
    affine(`${name}.norm2`, [outC]);
    conv(`${name}.conv2`, outC, outC, 3);
    if (inC !== outC) conv(`${name}.conv_shortcut`, inC, outC, 1);
  }
  const projections = legacyAttentionNames ? ['query', 'key', 'value', 'proj_attn'] : ['to_q', 'to_k', 'to_v', 'to_out.0'];
  for (const name of ATTENTIONS) {
    affine(`${name}.group_norm`, [256]);
    for (const proj of projections) affine(`${name}.${proj}`, [256, 256]);
  }
  for (const [name, c] of RESAMPLERS) conv(name, c, c, 3);
  affine('conv_norm_out', [128]);
  conv('conv_out', 128, 3, 3);
  return shapes;
}

/** Uniform values in ±1/√fanIn (a fixed LCG: reproducible per seed, fast for 36 M values). */
export function ddpmCifar10Fixture(seed = 1, legacyAttentionNames = false): TensorMap {
  const tensors: TensorMap = new Map();
  let state = seed >>> 0;
  for (const [name, shape] of ddpmCifar10Shapes(legacyAttentionNames)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const bound = 1 / Math.sqrt(shape.length > 1 ? data.length / shape[0] : shape[0]);
    for (let i = 0; i < data.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      data[i] = (2 * (state / 4294967296) - 1) * bound;
    }
    tensors.set(name, { dtype: 'f32', shape, data });
  }
  return tensors;
}

export async function writeDdpmFixture(path: string, seed = 1, legacyAttentionNames = false): Promise<void> {
  await writeFile(path, writeSafetensors(ddpmCifar10Fixture(seed, legacyAttentionNames), { fixture: 'google/ddpm-cifar10-32 names and shapes, random values' }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [out, ...flags] = process.argv.slice(2);
  if (!out) {
    console.error('usage: make-ddpm-fixture.ts OUT.safetensors [--legacy-attention-names]');
    process.exit(2);
  }
  await writeDdpmFixture(out, 1, flags.includes('--legacy-attention-names'));
  console.log(`wrote ${out}`);
}
