// GDMP's SSIM guidance: the GPU SSIM against the float64 reference, its gradient against finite
// differences of that reference, its fixed point and per-image independence, and purify() with it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { ops, type Engine } from '../../engine/index.ts';
import { loadDataset } from '../../engine/data/datasets.ts';
import { loadDenoiser } from '../../engine/models/catalog.ts';
import { nd, type Nd } from '../../engine/reference/nd.ts';
import * as ref from '../../engine/reference/ssim.ts';
import { gdmpGradient } from '../../engine/purify/guidance.ts';
import { purify } from '../../engine/purify/purifier.ts';
import { ssimMap, ssimPerImage } from '../../engine/purify/ssim.ts';
import { assertClose, finiteDiff, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);
const WEIGHTS = new URL('../../weights/franfee-ddpm-mnist.safetensors', import.meta.url).pathname;

/** Odd sizes: narrower and shorter than the 11×11 window, several channels. */
const SHAPES = [[2, 1, 13, 9], [1, 3, 12, 12]];

/** x like a noisy model-space image and y = x + noise, so SSIM spans well inside (−1, 1). */
function pair(shape: number[]): { x: Nd; y: Nd } {
  const x = randomNd(random, shape, 0.5);
  const noise = randomNd(random, shape, 0.4);
  return { x, y: nd(shape, x.data.map((v, i) => Math.fround(v + noise.data[i]))) };
}

/** ∇ₓ Σ_n mean SSIM(x[n], y[n]) on the GPU. */
async function gpuGradient(engine: Engine, x: Nd, y: Nd): Promise<Float32Array> {
  return engine.scopeAsync(() => gdmpGradient(upload(engine, x), upload(engine, y), 'ssim').read());
}

test('SSIM map and per-image means match the float64 reference', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const shape of SHAPES) {
    const { x, y } = pair(shape);
    const [map, means] = await engine.scopeAsync(async () => {
      const [xt, yt] = [upload(engine, x), upload(engine, y)];
      return Promise.all([ssimMap(xt, yt).read(), ssimPerImage(xt, yt).read()]);
    });
    assertClose(`SSIM map [${shape}]`, map, ref.ssimMap(x, y).data, 2e-4);
    assertClose(`mean SSIM per image [${shape}]`, means, ref.ssimPerImage(x, y), 2e-6);
  }
});

test('SSIM guidance gradient matches central finite differences of the float64 reference', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const shape of SHAPES) {
    const { x, y } = pair(shape);
    const g = await gpuGradient(engine, x, y);
    const coords = Array.from({ length: 10 }, () => Math.floor(random() * x.data.length));
    const fd = finiteDiff((v) => ref.ssimGuidance(nd(shape, v), y), x.data, coords);
    assertClose(`∇ SSIM guidance [${shape}] vs finite differences`, coords.map((i) => g[i]), fd, 2e-4);
  }
});

test('SSIM(x, x) = 1 for every image', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const shape of SHAPES) {
    const { x } = pair(shape);
    const means = await engine.scopeAsync(() => {
      const xt = upload(engine, x);
      return ssimPerImage(xt, xt).read();
    });
    assertClose(`SSIM(x, x) per image [${shape}]`, means, new Array(shape[0]).fill(1), 1e-5);
  }
});

test("an image's SSIM gradient does not depend on the rest of the batch", async () => {
  const engine = await getEngine();
  if (!engine) return;
  const [, c, h, w] = SHAPES[0];
  const per = c * h * w;
  const { x, y } = pair([2, c, h, w]);
  const first = (t: Nd) => nd([1, c, h, w], t.data.subarray(0, per));
  const alone = await gpuGradient(engine, first(x), first(y));
  const inBatch = await gpuGradient(engine, x, y);
  assertClose('image 0 alone vs in a batch of 2', inBatch.subarray(0, per), alone, 1e-6);
});

test('purify with gdmp + ssim is deterministic per seed, depends on it, and differs from mse', async () => {
  const engine = await getEngine();
  if (!engine || !existsSync(WEIGHTS)) return;
  const denoiser = await loadDenoiser(engine, WEIGHTS);
  const x = engine.keep(ops.fromArray(engine, loadDataset('mnist', 'test', { limit: 2 }).images, [2, 1, 28, 28]));
  const run = (gdmpDistance: 'mse' | 'ssim', seedValue: number) =>
    engine.scopeAsync(async () => (await purify(denoiser, x, { method: 'gdmp', gdmpDistance, tStar: 5, seed: seedValue, scale: 50 })).read());
  const a = await run('ssim', 1);
  const b = await run('ssim', 1);
  const c = await run('ssim', 2);
  const mse = await run('mse', 1);
  assert.equal(Array.from(a), Array.from(b), 'same seed, same images');
  assert.ok(a.some((v, i) => v !== c[i]), 'another seed gives other images');
  assert.ok(a.some((v, i) => v !== mse[i]), 'ssim guidance differs from mse guidance');
  x.dispose();
});

test.run();
