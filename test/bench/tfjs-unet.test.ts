// The --tfjs UNet comparison times a TF.js port of the DDPM UNet; it must compute the engine's ε̂ or
// the comparison is meaningless. A small config runs both, and a port with one wrong weight must fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dawnGpu } from '../../engine/device.ts';
import type { DdpmUnetConfig } from '../../engine/models/ddpm-unet.ts';
import { dawnAdapterName, runTfjs } from '../../tools/bench/tfjs.ts';
import { tfjsDdpmUnetCase, unetReference } from '../../tools/bench/tfjs-unet.ts';
import { freshSeed } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';

const seed = freshSeed();
console.log(`  seed ${seed}`);

/** Every block kind of the CIFAR UNet (shortcuts, attention at 4×4, both resamplers), small. */
const SMALL: DdpmUnetConfig = { imageChannels: 3, size: 8, channels: 16, multipliers: [1, 2], resBlocks: 1, attentionResolutions: [4], groups: 4, eps: 1e-6, downsamplePadding: 0, steps: 1000 };

test('the TF.js UNet port reproduces the engine, and a port with a wrong weight is rejected', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const ref = await unetReference(engine, SMALL, seed, 2, 'small');
  const gpu = await dawnGpu(dawnAdapterName(engine.gpu.adapterName));
  const records = await runTfjs(engine.gpu.adapterName, gpu, 1, [tfjsDdpmUnetCase(ref)]);
  if (!records) {
    console.log('  SKIP: TensorFlow.js is not installed');
    return;
  }
  assert.is(records.length, 1);
  assert.ok(records[0].imagesPerSec! > 0);

  const weights = new Map(ref.weights);
  const name = 'up_blocks.0.resnets.0.conv2.bias';
  const bias = weights.get(name);
  assert.ok(bias, name);
  weights.set(name, { ...bias, data: (bias.data as Float32Array).map((v, i) => (i === 0 ? v + 0.05 : v)) });
  try {
    await runTfjs(engine.gpu.adapterName, gpu, 1, [tfjsDdpmUnetCase({ ...ref, weights })]);
    assert.unreachable('a port with a wrong weight passed the check');
  } catch (err) {
    assert.match((err as Error).message, /differs from the engine/);
  }
});

test.run();
