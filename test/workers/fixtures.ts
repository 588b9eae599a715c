// What the worker tests compare against: the same purification on one in-process device.
import * as assert from 'uvu/assert';
import { loadDataset } from '../../engine/data/datasets.ts';
import { writeSafetensors } from '../../engine/io/safetensors.ts';
import { loadDenoiser } from '../../engine/models/catalog.ts';
import { MNIST_CLASSIFIER, cnnSpecs, type CnnConfig } from '../../engine/models/small-cnn.ts';
import type { Denoiser } from '../../engine/models/types.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { resolvePurifyOptions } from '../../engine/purify/defaults.ts';
import { purify } from '../../engine/purify/purifier.ts';
import { Engine } from '../../engine/runtime.ts';
import type { PurifyRequest, Shape4 } from '../../workers/api.ts';
import { compare, rng } from '../helpers/check.ts';

/** Results must match a single-device run this closely (they are usually bit-identical). */
export const SAME_AS_SINGLE_DEVICE = 1e-5;

const references = new Map<string, Promise<{ engine: Engine; denoiser: Denoiser }>>();

/** `adapter` as in Engine.create (default: the preferred one). */
export async function singleDevice(images: Float32Array, shape: Shape4, options: PurifyRequest, adapter?: string): Promise<Float32Array> {
  const key = adapter ?? '';
  if (!references.has(key)) references.set(key, Engine.create({ adapter }).then(async (engine) => ({ engine, denoiser: await loadDenoiser(engine) })));
  const { engine, denoiser } = await references.get(key)!;
  return engine.scopeAsync(async () => (await purify(denoiser, fromArray(engine, images, shape), resolvePurifyOptions(options))).read());
}

export function mnist(n: number, offset = 0): { images: Float32Array; shape: Shape4 } {
  const data = loadDataset('mnist', 'test', { limit: offset + n });
  return { images: data.images.slice(offset * 784), shape: [n, 1, 28, 28] };
}

export function assertSame(name: string, actual: Float32Array, expected: Float32Array): number {
  const { maxAbs } = compare(actual, expected);
  console.log(`    ${name.padEnd(56)} max |workers − one device| ${maxAbs.toExponential(2)}`);
  assert.ok(maxAbs <= SAME_AS_SINGLE_DEVICE, `${name}: differs from the single-device run by ${maxAbs}`);
  return maxAbs;
}

/** A randomly initialised MNIST CNN (the classifier, or c_φ) as safetensors bytes: exercises building models from bytes. */
export function randomClassifierBytes(seed: number, config: CnnConfig = MNIST_CLASSIFIER): Uint8Array {
  const random = rng(seed);
  const weights = new Map(
    cnnSpecs(config).list.map((spec) => {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const bound = 1 / Math.sqrt(size / spec.shape[0]);
      return [spec.name, { dtype: 'f32' as const, shape: spec.shape, data: Float32Array.from({ length: size }, () => (2 * random() - 1) * bound) }];
    }),
  );
  return writeSafetensors(weights);
}
