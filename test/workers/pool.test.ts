// The Node worker pool: same results as one device, input order kept, bounded queue, cancellation
// within one step, and flat GPU memory in the workers over many tasks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PurifyRequest } from '../../workers/api.ts';
import { PoolQueueFullError, createPool, type PurifierPool } from '../../workers/pool.ts';
import type { PoolWorkerStats } from '../../workers/pool-protocol.ts';
import { freshSeed, rng } from '../helpers/check.ts';
import { assertSame, mnist, singleDevice } from './fixtures.ts';

const THREADS = 2;
const MAX_QUEUE = 2;
let pool: PurifierPool;
let baseline: PoolWorkerStats[];

const totalSteps = (stats: PoolWorkerStats[]) => stats.reduce((n, s) => n + s.steps, 0);

test.before(async () => {
  const started = performance.now();
  pool = createPool({ workersPerAdapter: THREADS, maxQueue: MAX_QUEUE });
  baseline = await pool.ready();
  console.log(`  ${pool.threads} threads on ${baseline[0].adapter}, ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

test.after(() => pool.close());

test('a batch split over the threads equals one device running it whole', async () => {
  const seed = freshSeed();
  console.log(`    seed ${seed}`);
  const { images, shape } = mnist(7);
  const options: PurifyRequest = { method: 'diffpure', tStar: 6, seed };
  const chunks = new Set<number>();
  const { data: purified, seed: used } = await pool.purify(images, shape, options, { onProgress: (p) => chunks.add(p.chunk.index) });
  assert.is(chunks.size, THREADS, 'every thread got a chunk');
  assert.is(used, seed, 'the result names the seed it was given');
  assertSame('7 images on 2 threads (chunks of 4 and 3)', purified, await singleDevice(images, shape, options));
  assert.ok(purified.some((v, i) => Math.abs(v - images[i]) > 0.05), 'purification changed the images');
});

test('without a seed every call draws a fresh one, returns it, and passing it back replays the call', async () => {
  const { images, shape } = mnist(5);
  const options: PurifyRequest = { method: 'diffpure', tStar: 4 };
  const first = await pool.purify(images, shape, options);
  const second = await pool.purify(images, shape, options);
  assert.ok(Number.isSafeInteger(first.seed) && first.seed !== second.seed, `two unseeded calls drew seeds ${first.seed} and ${second.seed}`);
  assert.ok(first.data.some((v, i) => v !== second.data[i]), 'two unseeded calls purified with the same noise');
  assertSame(`replayed with seed ${first.seed}`, (await pool.purify(images, shape, { ...options, seed: first.seed })).data, first.data);
});

test('concurrent requests of random sizes and depths come back whole and in input order', async () => {
  const seed = freshSeed();
  const random = rng(seed);
  console.log(`    seed ${seed}`);
  const requests = Array.from({ length: 4 }, (_, r) => {
    const n = 1 + Math.floor(random() * 5);
    const options: PurifyRequest = { method: 'diffpure', tStar: 2 + Math.floor(random() * 6), seed: r, firstIndex: Math.floor(random() * 50) };
    return { ...mnist(n, r * 5), options };
  });
  // Admitted two at a time: the queue holds MAX_QUEUE chunks.
  const results: Float32Array[] = [];
  for (let r = 0; r < requests.length; r += 2) {
    const pair = requests.slice(r, r + 2);
    results.push(...(await Promise.all(pair.map(async (q) => (await pool.purify(q.images, q.shape, q.options)).data))));
  }
  for (const [r, q] of requests.entries()) {
    assertSame(`request ${r}: ${q.shape[0]} images, t* ${q.options.tStar}, firstIndex ${q.options.firstIndex}`, results[r], await singleDevice(q.images, q.shape, q.options));
  }
});

test('a full queue refuses a whole request at once', async () => {
  const big = mnist(8);
  const options: PurifyRequest = { method: 'diffpure', tStar: 3, seed: 1 };
  const running = pool.purify(big.images, big.shape, options); // 2 chunks, both threads busy
  const waiting = pool.purify(big.images, big.shape, options); // 2 chunks wait: the queue is full
  const refused = pool.purify(big.images.subarray(0, 784), [1, 1, 28, 28], options);
  const error = await refused.then(
    () => null,
    (err: Error) => err,
  );
  assert.ok(error instanceof PoolQueueFullError, `expected PoolQueueFullError, got ${error}`);
  console.log(`    refused: ${error.message}`);
  await Promise.all([running, waiting]);
});

test('cancelling stops a running chunk within one step and queued chunks before they start', async () => {
  await pool.idle();
  const before = totalSteps(pool.workerStats());
  const controller = new AbortController();
  let stepAtAbort = 0;
  const target = pool.purify(mnist(1).images, [1, 1, 28, 28], { method: 'diffpure', tStar: 10, seed: 5 }, {
    signal: controller.signal,
    onProgress: (p) => {
      stepAtAbort = p.chunk.step;
      if (p.chunk.step === 2) controller.abort();
    },
  });
  const other = mnist(1, 1);
  const otherOptions = { method: 'diffpure', tStar: 10, seed: 6 } satisfies PurifyRequest;
  const bystander = pool.purify(other.images, other.shape, otherOptions);
  const queued = pool.purify(mnist(2, 2).images, [2, 1, 28, 28], { method: 'diffpure', tStar: 10, seed: 7 }, { signal: controller.signal });
  for (const [name, request] of [['running', target], ['queued', queued]] as const) {
    const error = await request.then(
      () => null,
      (err: Error) => err,
    );
    assert.is(error?.name, 'AbortError', `${name} request: expected an AbortError, got ${error}`);
  }
  assertSame('a request running beside the cancelled ones', (await bystander).data, await singleDevice(other.images, other.shape, otherOptions));
  await pool.idle();
  const ran = totalSteps(pool.workerStats()) - before - otherOptions.tStar;
  console.log(`    cancelled after step ${stepAtAbort}: the cancelled requests ran ${ran} steps`);
  assert.ok(ran <= stepAtAbort + 1, `cancelled work ran ${ran} steps, more than one past step ${stepAtAbort}`);
});

test('GPU memory in every thread stays flat over many tasks (cancelled ones included above)', async () => {
  const { images, shape } = mnist(4);
  const live = new Map(baseline.map((s) => [s.threadId, s.engine]));
  for (let i = 0; i < 10; i++) {
    await pool.purify(images, shape, { method: 'diffpure', tStar: 2, seed: i });
    for (const s of pool.workerStats()) {
      const start = live.get(s.threadId)!;
      assert.is(s.engine.liveBytes, start.liveBytes, `thread ${s.threadId}: live bytes after task ${i}`);
      assert.is(s.engine.liveTensors, start.liveTensors, `thread ${s.threadId}: live tensors after task ${i}`);
    }
  }
  for (const s of pool.workerStats()) {
    console.log(`    thread ${s.threadId}: ${s.tasks} tasks, live ${s.engine.liveBytes} B in ${s.engine.liveTensors} tensors (as after start), pooled ${s.engine.pooledBytes} B, peak ${s.engine.peakBytes} B`);
  }
});

test.run();
