// PurifierApi over Comlink in a Node worker_thread: typed calls, transferred buffers, progress
// callbacks through Comlink.proxy (our worker_threads transfer handler), cancellation by job id,
// and models built from bytes sent by the caller.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { proxy, transfer } from 'comlink';
import type { ImageBatch, PurifyRequest, StepProgress } from '../../workers/api.ts';
import { spawnPurifierWorker, type SpawnedPurifier } from '../../workers/spawn.ts';
import { freshSeed } from '../helpers/check.ts';
import { assertSame, mnist, randomClassifierBytes, singleDevice } from './fixtures.ts';

let worker: SpawnedPurifier;

test.before(async () => {
  worker = spawnPurifierWorker();
  const classifier = randomClassifierBytes(1);
  const info = await worker.api.init(transfer({ denoiser: { name: 'franfee-mnist' }, classifier: { name: 'mnist-cnn', bytes: classifier } }, [classifier.buffer]));
  console.log(`  worker: ${info.adapter}, models ${info.models.join(', ')}, init ${(info.initMs / 1000).toFixed(1)} s`);
  assert.is(classifier.byteLength, 0, 'the weight bytes were transferred, not copied');
});

test.after(() => worker.close());

test('purify over Comlink: the input is transferred, progress streams per step, the result equals one device', async () => {
  const seed = freshSeed();
  console.log(`    seed ${seed}`);
  const { images, shape } = mnist(3);
  const options: PurifyRequest = { method: 'diffpure', tStar: 4, seed };
  const expected = await singleDevice(images, shape, options);
  const batch: ImageBatch = { data: images.slice(), shape };
  const events: StepProgress[] = [];
  const purified = await worker.api.purify(transfer(batch, [batch.data.buffer]), options, proxy((p: StepProgress) => void events.push(p)));
  assert.is(batch.data.byteLength, 0, 'the input buffer was transferred');
  assert.equal(events.map((e) => e.step), [1, 2, 3, 4]);
  assert.equal(purified.shape, shape);
  assert.is(purified.seed, seed, 'the result records its seed');
  assertSame('3 images through the Comlink worker', purified.data, expected);
});

test('cancel(jobId) stops a running purification between steps with an AbortError', async () => {
  const { images, shape } = mnist(2);
  const before = (await worker.api.stats()).engine;
  let lastStep = 0;
  const onProgress = proxy((p: StepProgress) => {
    lastStep = p.step;
    if (p.step === 2) void worker.api.cancel('job-1');
  });
  const error = await worker.api.purify({ data: images, shape }, { method: 'diffpure', tStar: 10, seed: 1 }, onProgress, 'job-1').then(
    () => null,
    (err: Error) => err,
  );
  assert.is(error?.name, 'AbortError', `expected an AbortError, got ${error}`);
  console.log(`    cancelled at step 2; last step reported ${lastStep} of 10`);
  assert.ok(lastStep <= 3, `ran to step ${lastStep} after cancelling at 2`);
  const after = (await worker.api.stats()).engine;
  assert.is(after.liveBytes, before.liveBytes, 'a cancelled job frees its GPU memory');
  assert.is(after.liveTensors, before.liveTensors, 'a cancelled job frees its tensors');
});

test('classify and attack with a classifier built from bytes', async () => {
  const { images, shape } = mnist(4);
  const labels = await worker.api.classify({ data: images, shape });
  assert.is(labels.length, 4);
  assert.ok(labels.every((l) => Number.isInteger(l) && l >= 0 && l < 10));
  const eps = 0.1;
  const adversarial = await worker.api.attack({ data: images, shape }, labels, { norm: 'linf', eps, steps: 3, seed: 2, randomStart: true });
  let moved = 0;
  for (let i = 0; i < images.length; i++) moved = Math.max(moved, Math.abs(adversarial.data[i] - images[i]));
  console.log(`    predicted ${labels.join(' ')}; PGD moved pixels by up to ${moved.toFixed(4)} (ε = ${eps})`);
  assert.ok(moved > eps / 2 && moved <= eps + 1e-6, `perturbation ${moved} outside (ε/2, ε]`);
});

test.run();
