// Purification: determinism, the AGDM/DiffPure relation, the size of the change, and the guidance
// gradient against a float64 reference and finite differences.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { ops, type Tensor } from '../../engine/index.ts';
import { loadDataset } from '../../engine/data/datasets.ts';
import { loadDenoiser } from '../../engine/models/catalog.ts';
import type { Classifier } from '../../engine/models/types.ts';
import { Params, ParamSpecs } from '../../engine/nn/params.ts';
import { agdmGradient, agdmReference, AGDM_DEFAULTS } from '../../engine/purify/guidance.ts';
import { purify } from '../../engine/purify/purifier.ts';
import { assertClose, finiteDiff, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);
const WEIGHTS = new URL('../../weights/franfee-ddpm-mnist.safetensors', import.meta.url).pathname;

/** A linear classifier on 28×28 images: simple enough for a closed-form float64 gradient. */
function linearClassifier(p: Params): Classifier {
  const logits = (x: Tensor) => ops.linear(ops.reshape(x, [x.shape[0], -1]), p.get('w'), p.get('b'));
  return { name: 'linear', imageShape: [1, 28, 28], classes: 10, params: p, logits, features: (x) => ({ features: logits(x), logits: logits(x) }) };
}

async function setup() {
  const engine = await getEngine();
  if (!engine || !existsSync(WEIGHTS)) return null;
  const denoiser = await loadDenoiser(engine, WEIGHTS);
  const data = loadDataset('mnist', 'test', { limit: 4 });
  const x = engine.keep(ops.fromArray(engine, data.images, [4, 1, 28, 28]));
  const specs = new ParamSpecs().add('w', [10, 784], { uniform: 0.05 }).add('b', [10], { uniform: 0.1 });
  const guide = linearClassifier(Params.init(engine, specs, 3));
  return { engine, denoiser, x, guide };
}

test('each method is deterministic per seed; seeds differ; agdm with s = 0 equals diffpure exactly', async () => {
  const s = await setup();
  if (!s) return;
  const { engine, denoiser, x, guide } = s;
  const run = (method: 'diffpure' | 'gdmp' | 'agdm', seedValue: number, scale = 50) =>
    engine.scopeAsync(async () => (await purify(denoiser, x, { method, tStar: 8, seed: seedValue, scale }, guide)).read());
  for (const method of ['diffpure', 'gdmp', 'agdm'] as const) {
    const a = await run(method, 1);
    const b = await run(method, 1);
    const c = await run(method, 2);
    assert.equal(Array.from(a), Array.from(b), `${method} is deterministic`);
    assert.ok(a.some((v, i) => v !== c[i]), `${method}: another seed gives another result`);
  }
  const diffpure = await run('diffpure', 5);
  const agdm0 = await run('agdm', 5, 0);
  assert.equal(Array.from(agdm0), Array.from(diffpure), 'agdm with s = 0 is diffpure');
  const agdm = await run('agdm', 5, 200);
  assert.ok(agdm.some((v, i) => v !== diffpure[i]), 'guidance changes the result');
});

test('fromNoise (the sampler\'s chain) starts from x ~ N(0, I): the input gives only the shape', async () => {
  const s = await setup();
  if (!s) return;
  const { engine, denoiser, x } = s;
  const run = (input: Tensor, fromNoise: boolean) => engine.scopeAsync(async () => (await purify(denoiser, input, { method: 'diffpure', tStar: 8, seed: 4, fromNoise })).read());
  const fromImages = await run(x, true);
  const fromZeros = await engine.scopeAsync(() => run(ops.zeros(engine, x.shape), true));
  assert.equal(Array.from(fromImages), Array.from(fromZeros), 'the input leaked into a chain from pure noise');
  const purified = await run(x, false);
  assert.ok(purified.some((v, i) => v !== fromImages[i]), 'fromNoise is ignored: the chain started from the diffused input');
});

test('a split batch purifies each image exactly as the whole batch does', async () => {
  const s = await setup();
  if (!s) return;
  const { engine, denoiser, x } = s;
  const whole = await engine.scopeAsync(async () => (await purify(denoiser, x, { method: 'diffpure', tStar: 6, seed: 9 })).read());
  const tail = await engine.scopeAsync(async () => {
    const part = ops.fromArray(engine, (await x.read()).subarray(2 * 784), [2, 1, 28, 28]);
    return (await purify(denoiser, part, { method: 'diffpure', tStar: 6, seed: 9, firstIndex: 2 })).read();
  });
  assertClose('images 2..3 alone vs in the batch', tail, whole.subarray(2 * 784), 1e-5);
});

test('purifying a clean image changes it less than the diffusion noise would', async () => {
  const s = await setup();
  if (!s) return;
  const { engine, denoiser, x } = s;
  const tStar = 100;
  const input = await x.read();
  const out = await engine.scopeAsync(async () => (await purify(denoiser, x, { method: 'diffpure', tStar, seed: 4 })).read());
  const ab = denoiser.schedule.alphaBars[tStar - 1];
  // E‖x_t* − x‖² per pixel for unit-range data: (√ᾱ − 1)²·E[x²] + (1 − ᾱ).
  const meanSq = input.reduce((a, v) => a + v * v, 0) / input.length;
  const noiseChange = Math.sqrt((Math.sqrt(ab) - 1) ** 2 * meanSq + (1 - ab));
  const change = Math.sqrt(out.reduce((a, v, i) => a + (v - input[i]) ** 2, 0) / input.length);
  console.log(`    RMS change ${change.toFixed(4)} vs RMS diffusion noise ${noiseChange.toFixed(4)} (t*=${tStar})`);
  assert.ok(change < noiseChange);
});

test('memory stays flat over many purification steps', async () => {
  const s = await setup();
  if (!s) return;
  const { engine, denoiser, x, guide } = s;
  const once = () => engine.scopeAsync(async () => void (await purify(denoiser, x, { method: 'agdm', tStar: 5, seed: 1, scale: 10 }, guide)));
  await once();
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 8; i++) await once();
  await engine.sync();
  const after = engine.stats();
  console.log(`    40 guided steps: live ${before.liveBytes} → ${after.liveBytes} B, tensors ${before.liveTensors} → ${after.liveTensors}, pooled ${after.pooledBytes} B, new allocations ${after.allocations - before.allocations}`);
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.liveTensors, before.liveTensors);
  assert.ok(after.allocations - before.allocations <= 4, 'a warm pool barely allocates');
});

test('AGDM guidance gradient matches the float64 closed form and finite differences', async () => {
  const s = await setup();
  if (!s) return;
  const { engine, guide } = s;
  const W = await guide.params.get('w').read();
  const B = await guide.params.get('b').read();
  const xp = randomNd(random, [2, 1, 28, 28], 0.3).data.map((v) => Math.fround(0.5 + v));
  const xt = randomNd(random, [2, 1, 28, 28], 0.5).data.map((v) => Math.fround(0.5 + v));
  for (const weights of [{ classWeight: 1, latentWeight: 0 }, { classWeight: 0, latentWeight: 1 }, { classWeight: 0.7, latentWeight: 2 }]) {
    const opts = { ...AGDM_DEFAULTS, ...weights };
    const ref = await agdmReference(guide, upload(engine, { shape: [2, 1, 28, 28], data: xp }), opts);
    const target = await ref.target.read();
    // G(x) = Σ_n cw·log softmax(Wx_n + b)_ŷ − lw·‖Wx_n + b − h(x′_n)‖², in float64.
    const G = (x: Float64Array) => {
      let total = 0;
      for (let n = 0; n < 2; n++) {
        const z = Array.from({ length: 10 }, (_, k) => B[k] + W.subarray(k * 784, (k + 1) * 784).reduce((a, w, i) => a + w * x[n * 784 + i], 0));
        const m = Math.max(...z);
        const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
        total += opts.classWeight * (z[ref.predicted[n]] - lse) - opts.latentWeight * z.reduce((a, v, k) => a + (v - target[n * 10 + k]) ** 2, 0);
      }
      return total;
    };
    const xtTensor = upload(engine, { shape: [2, 1, 28, 28], data: xt });
    const g = await agdmGradient(guide, xtTensor, ref, opts, { a: 1, b: 0 }).read();
    const coords = Array.from({ length: 12 }, () => Math.floor(random() * xt.length));
    const fd = finiteDiff(G, Float64Array.from(xt), coords, 1e-4);
    assertClose(`agdm gradient ${JSON.stringify(weights)} vs finite differences`, coords.map((i) => g[i]), fd, 1e-3);
  }
});

test.run();
