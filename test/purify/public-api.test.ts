// The public purifier: one defaults table, every input form, bad inputs refused with typed errors
// before any GPU work, and results independent of the GPU batch size.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePng } from '../../engine/data/png.ts';
import { createPurifier, ImageTooLargeError, InvalidImageError, InvalidOptionError, ModelMismatchError, PURIFY_DEFAULTS, resolvePurifyOptions, toImageBatch, type Purifier } from '../../engine/index.ts';
import { chainPlan } from '../../engine/purify/chain-plan.ts';
import { linearSchedule } from '../../engine/diffusion/schedule.ts';
import { encodePng } from '../../engine/data/png.ts';

const SHAPE = [1, 28, 28] as const;
const sample = readFileSync(new URL('../../web/samples/mnist_00_7.png', import.meta.url));

test('defaults: agdm without a scale is guided with the measured s, every method has its t*', () => {
  const { seed, ...resolved } = resolvePurifyOptions();
  assert.equal(resolved, { method: 'agdm', tStar: 70, scale: 30, scaleSchedule: 'constant' });
  // No default seed: each resolution draws a fresh 53-bit one (two equal draws: chance 2^-53).
  assert.ok(Number.isSafeInteger(seed) && seed >= 0, `seed ${seed}`);
  assert.is.not(resolvePurifyOptions().seed, seed);
  assert.is(resolvePurifyOptions({ seed: 0 }).seed, 0);
  assert.is(resolvePurifyOptions({ method: 'diffpure' }).tStar, 100);
  assert.is(resolvePurifyOptions({ method: 'gdmp' }).scale, 2);
  // chainPlan() is what purify() runs: a partial request must not fall back to an unguided chain.
  const denoiser = { schedule: linearSchedule(), dataRange: 'unit', name: 'stub', imageShape: [1, 28, 28] };
  const plan = chainPlan(denoiser as never, { method: 'agdm', tStar: 5, seed: 0 });
  assert.ok(plan.steps.every((s) => s.guided), 'agdm steps are guided by default');
});

test('defaults: impossible options are InvalidOptionErrors', () => {
  assert.throws(() => resolvePurifyOptions({ method: 'magic' as never }), (e: Error) => e instanceof InvalidOptionError && /unknown method "magic"/.test(e.message));
  assert.throws(() => resolvePurifyOptions({ tStar: 0 }), /tStar must be an integer ≥ 1, got 0/);
  assert.throws(() => resolvePurifyOptions({ tStar: 2.5 }), /tStar must be an integer/);
  assert.throws(() => resolvePurifyOptions({ seed: -1 }), /seed must be an integer ≥ 0/);
  assert.throws(() => resolvePurifyOptions({ scale: Number.NaN }), /scale must be a finite number/);
  assert.throws(() => resolvePurifyOptions({ scaleSchedule: 'cosine' as never }), /scaleSchedule must be/);
});

test('inputs: PNG bytes, ImageData-like RGBA and floats give the same batch', () => {
  const png = decodePng(sample);
  const fromPng = toImageBatch(sample, SHAPE).data;
  const rgba = new Uint8ClampedArray(784 * 4);
  for (let p = 0; p < 784; p++) rgba.set([png.data[p], png.data[p], png.data[p], 255], p * 4);
  assert.equal(toImageBatch({ data: rgba, width: 28, height: 28 }, SHAPE).data, fromPng);
  assert.equal(toImageBatch(Float32Array.from(fromPng), SHAPE).data, fromPng);
  const two = toImageBatch([sample, sample.buffer.slice(sample.byteOffset, sample.byteOffset + sample.length) as ArrayBuffer], SHAPE);
  assert.equal(two.shape, [2, 1, 28, 28]);
});

test('inputs: wrong shape, NaN, out of range, garbage and oversized images are InvalidImageErrors', () => {
  const is = (kind: typeof InvalidImageError | typeof ImageTooLargeError, message: RegExp) => (e: Error) => e instanceof kind && message.test(e.message);
  assert.throws(() => toImageBatch(new Float32Array(700), SHAPE), is(InvalidImageError, /700 floats are not whole 1×28×28 images/));
  assert.throws(() => toImageBatch(new Float32Array(784).fill(Number.NaN), SHAPE), is(InvalidImageError, /784 pixel values are NaN, infinite or outside \[0, 1\]/));
  assert.throws(() => toImageBatch([new Float32Array(784), new Float32Array(784).fill(1.5)], SHAPE), is(InvalidImageError, /input 1: 784 pixel values/));
  assert.throws(() => toImageBatch({ data: new Uint8ClampedArray(10), width: 28, height: 28 }, SHAPE), is(InvalidImageError, /needs width × height × 4 RGBA bytes/));
  const big = encodePng({ width: 30, height: 30, channels: 3, data: new Uint8Array(2700) });
  assert.throws(() => toImageBatch(big, SHAPE), is(InvalidImageError, /30×30 gray image, but the model takes 28×28 gray.*fit/));
  const colour = encodePng({ width: 28, height: 28, channels: 3, data: Uint8Array.from({ length: 2352 }, (_, i) => (i % 3) * 100) });
  assert.throws(() => toImageBatch(colour, SHAPE), is(InvalidImageError, /28×28 colour image, but the model takes 28×28 gray/));
  assert.throws(() => toImageBatch(big, SHAPE, { maxPixels: 800 }), is(ImageTooLargeError, /more than the limit of 800/));
  assert.throws(() => toImageBatch(new Uint8Array([1, 2, 3]), SHAPE));
  assert.throws(() => toImageBatch('x.png' as never, SHAPE), is(InvalidImageError, /expected PNG\/JPEG bytes/));
  assert.throws(() => toImageBatch([], SHAPE), is(InvalidImageError, /no images given/));
});

test('inputs: fit converts colour to gray and resizes; an unscaled gray image is unchanged', () => {
  const big = encodePng({ width: 56, height: 56, channels: 3, data: new Uint8Array(56 * 56 * 3).fill(51) });
  const fitted = toImageBatch(big, SHAPE, { fit: true }).data;
  assert.is(fitted.length, 784);
  assert.ok(fitted.every((v) => Math.abs(v - 0.2) < 1e-6));
  assert.equal(toImageBatch(sample, SHAPE, { fit: true }).data, toImageBatch(sample, SHAPE).data);
});

let purifier: Purifier;

test('createPurifier: labels the purified sample, same bytes for any GPU batch size, refuses bad input before work', async () => {
  purifier = await createPurifier({ method: 'diffpure', tStar: 3, seed: 5 });
  const one = await purifier.purify([sample, sample, sample], { onStep: () => {} });
  assert.is(one.labels!.length, 3);
  assert.is(one.options.scale, 0);
  const batched = await createPurifier({ method: 'diffpure', tStar: 3, seed: 5, batch: 2, classifier: false, guidance: false });
  const split = await batched.purify([sample, sample, sample]);
  assert.equal(split.images, one.images, 'noise follows the image index, not the batch');
  assert.is(split.labels, null);
  await batched.purify(sample, { method: 'agdm' }).then(() => assert.unreachable('agdm without c_φ'), (e: Error) => assert.match(e.message, /agdm needs the guidance network/));
  batched.close();
  await purifier.purify(new Float32Array(784).fill(2)).then(() => assert.unreachable('out of range'), (e: Error) => assert.instance(e, InvalidImageError));
  await purifier.purify(sample, { tStar: -1 }).then(() => assert.unreachable('t* -1'), (e: Error) => assert.instance(e, InvalidOptionError));
  assert.is(decodePng(purifier.png(one, 2)).width, 28);
  purifier.close();
});

test('createPurifier: a fresh noise seed per call unless one is given; the result records the seed it used', async () => {
  const fresh = await createPurifier({ method: 'diffpure', tStar: 3, classifier: false, guidance: false });
  const [a, b] = [await fresh.purify(sample), await fresh.purify(sample)];
  assert.is.not(a.options.seed, b.options.seed, 'two calls of one session drew the same seed');
  assert.ok(a.images.some((v, i) => v !== b.images[i]), 'two calls without a seed gave the same noise');
  assert.equal((await fresh.purify(sample, { seed: a.options.seed })).images, a.images, 'the recorded seed replays the call');
  fresh.close();
  const fixed = await createPurifier({ method: 'diffpure', tStar: 3, seed: 11, classifier: false, guidance: false });
  const [c, d] = [await fixed.purify(sample), await fixed.purify(sample)];
  assert.is(c.options.seed, 11);
  assert.equal(c.images, d.images, 'a session seed fixes every call');
  fixed.close();
});

test('createPurifier: a CIFAR classifier or c_φ does not fit the MNIST denoiser', async () => {
  for (const models of [{ classifier: 'resnet20' }, { guidance: 'resnet20' }]) {
    await createPurifier(models).then(
      (p) => (p.close(), assert.unreachable(`${JSON.stringify(models)} accepted`)),
      (e: Error) => assert.ok(e instanceof ModelMismatchError && /resnet20 takes 3×32×32 images/.test(e.message), e.message),
    );
  }
  assert.is(PURIFY_DEFAULTS.models.denoiser, 'franfee-mnist');
});

test.run();
