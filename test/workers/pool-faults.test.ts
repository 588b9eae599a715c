// Fault tolerance of the Node worker pool: a thread that exits mid-task, or whose device is lost
// mid-task, costs a retry and nothing else; when retries run out the error says what happened.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PurifyRequest } from '../../workers/api.ts';
import { PoolTaskError, createPool, type PoolProgress, type PurifierPool } from '../../workers/pool.ts';
import { freshSeed } from '../helpers/check.ts';
import { assertSame, mnist, singleDevice } from './fixtures.ts';

let pool: PurifierPool;

test.before(async () => {
  pool = createPool({ workersPerAdapter: 2 });
  await pool.ready();
});

test.after(() => pool.close());

async function purifyThroughFault(kind: 'exit' | 'lose-device', atStep: number): Promise<PoolProgress[]> {
  const seed = freshSeed();
  console.log(`    seed ${seed}`);
  const { images, shape } = mnist(6);
  const options: PurifyRequest = { method: 'diffpure', tStar: 5, seed, firstIndex: 3 };
  const events: PoolProgress[] = [];
  pool.injectFault(kind, atStep);
  const { data: purified } = await pool.purify(images, shape, options, { onProgress: (p) => events.push(p) });
  assertSame(`6 images, one thread hit by '${kind}' at step ${atStep}`, purified, await singleDevice(images, shape, options));
  const retried = events.filter((e) => e.chunk.attempt > 0);
  assert.ok(retried.length > 0, 'one chunk was retried');
  assert.is(new Set(retried.map((e) => e.chunk.index)).size, 1, 'exactly one chunk was retried');
  return events;
}

test('a thread that exits mid-task is replaced and its chunk retried; no image lost or duplicated', async () => {
  const before = (await pool.ready()).map((s) => s.threadId);
  await purifyThroughFault('exit', 2);
  const after = (await pool.ready()).map((s) => s.threadId);
  console.log(`    threads before ${before.join(', ')}; after ${after.join(', ')}`);
  assert.is(after.length, before.length, 'the pool is back to full strength');
  assert.is(after.filter((id) => !before.includes(id)).length, 1, 'one thread was replaced');
});

test('a thread whose device is lost mid-task gets a new device and its chunk is retried', async () => {
  const before = await pool.ready();
  await purifyThroughFault('lose-device', 3);
  const after = await pool.ready();
  assert.equal(after.map((s) => s.threadId), before.map((s) => s.threadId), 'the threads survive a lost device');
  for (const s of after) assert.is(s.engine.liveBytes, before[0].engine.liveBytes, `thread ${s.threadId}: live bytes (weights only) after recovery`);
});

test('when retries run out the error names the images and the cause, and the pool still works', async () => {
  const fragile = createPool({ workersPerAdapter: 1, maxAttempts: 1 });
  try {
    await fragile.ready();
    const { images, shape } = mnist(2);
    const options: PurifyRequest = { method: 'diffpure', tStar: 3, seed: 1 };
    fragile.injectFault('exit', 1);
    const error = await fragile.purify(images, shape, options).then(
      () => null,
      (err: Error) => err,
    );
    assert.ok(error instanceof PoolTaskError, `expected PoolTaskError, got ${error}`);
    console.log(`    error: ${error.message}`);
    assert.match(error.message, /images 0–1 failed after 1 attempt: .*exited with code: 70 \(injected crash\)/);
    assertSame('the replacement thread then purifies normally', (await fragile.purify(images, shape, options)).data, await singleDevice(images, shape, options));
  } finally {
    await fragile.close();
  }
});

test.run();
