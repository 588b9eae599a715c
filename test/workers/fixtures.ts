// What the worker tests compare against: the same purification on one in-process device.
import * as assert from 'uvu/assert';
import { loadDataset } from '../../engine/data/datasets.ts';
import { loadDenoiser } from '../../engine/models/catalog.ts';
import type { Denoiser } from '../../engine/models/types.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { purify } from '../../engine/purify/purifier.ts';
import { Engine } from '../../engine/runtime.ts';
import type { PurifyRequest, Shape4 } from '../../workers/api.ts';
import { compare } from '../helpers/check.ts';

/** Results must match a single-device run this closely (they are usually bit-identical). */
export const SAME_AS_SINGLE_DEVICE = 1e-5;

let reference: Promise<{ engine: Engine; denoiser: Denoiser }> | null = null;

export async function singleDevice(images: Float32Array, shape: Shape4, options: PurifyRequest): Promise<Float32Array> {
  reference ??= Engine.create().then(async (engine) => ({ engine, denoiser: await loadDenoiser(engine) }));
  const { engine, denoiser } = await reference;
  return engine.scopeAsync(async () => (await purify(denoiser, fromArray(engine, images, shape), options)).read());
}

export function mnist(n: number, offset = 0): { images: Float32Array; shape: Shape4 } {
  const data = loadDataset('mnist', 'test', { limit: offset + n });
  return { images: data.images.slice(offset * 784), shape: [n, 1, 28, 28] };
}

export function assertSame(name: string, actual: Float32Array, expected: Float32Array): number {
  const { maxAbs } = compare(actual, expected);
  console.log(`    ${name.padEnd(56)} max |pool − single device| ${maxAbs.toExponential(2)}`);
  assert.ok(maxAbs <= SAME_AS_SINGLE_DEVICE, `${name}: differs from the single-device run by ${maxAbs}`);
  return maxAbs;
}
