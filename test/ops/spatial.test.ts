import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad } from '../../engine/index.ts';
import { sum } from '../../engine/ops/index.ts';
import { concatChannels, crop2d, pad2d, padChannels, sliceChannels, subsample2x } from '../../engine/ops/layout.ts';
import { avgPool2x2, maxPool2x2, upsampleNearest2x } from '../../engine/ops/pool.ts';
import { nd } from '../../engine/reference/nd.ts';
import * as ref from '../../engine/reference/spatial.ts';
import { rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';
import { opTable } from '../helpers/op-harness.ts';
import { SPATIAL_CASES } from './cases/spatial.ts';

opTable(SPATIAL_CASES);

// Shapes, errors and pool accounting only: any values do.
const random = rng(1);

test('max pool ties send the gradient to the first maximum, as PyTorch does', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = nd([1, 1, 2, 4], [1, 1, 0, 2, 1, 1, 2, 2]);
  const t = upload(engine, x);
  const { grads } = valueAndGrad(engine, () => sum(maxPool2x2(t)), [t]);
  assert.equal([...(await grads[0].read())], [1, 0, 0, 1, 0, 0, 0, 0]);
  assert.equal([...ref.maxPool2x2Backward(x, nd([1, 1, 1, 2], [1, 1])).data], [1, 0, 0, 1, 0, 0, 0, 0]);
});

test('bad shapes are rejected with clear errors', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [1, 2, 3, 3]));
  assert.throws(() => crop2d(x, 1, 1, 3, 2), /crop2d/);
  assert.throws(() => sliceChannels(x, 1, 2), /sliceChannels/);
  assert.throws(() => concatChannels([x, upload(engine, randomNd(random, [1, 2, 3, 4]))]), /concatChannels/);
  assert.throws(() => avgPool2x2(upload(engine, randomNd(random, [3, 3]))), /avgPool2x2/);
  assert.throws(() => pad2d(x, { left: -4 }), /pad2d/);
});

test('repeated use returns the pool to its live bytes', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [2, 4, 9, 9]));
  const step = () => {
    const { value, grads } = valueAndGrad(engine, () => sum(concatChannels([maxPool2x2(pad2d(x, { right: 1, bottom: 1 })), padChannels(subsample2x(avgPool2x2(upsampleNearest2x(x))), 0, 0)])), [x]);
    value.dispose();
    grads.forEach((g) => g.dispose());
    engine.scope(() => {
      sliceChannels(crop2d(x, 1, 1, 5, 5), 1, 2);
    });
  };
  for (let i = 0; i < 20; i++) step();
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 100; i++) step();
  await engine.sync();
  const after = engine.stats();
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(after.allocations, before.allocations, 'a warm pool allocates nothing new');
});

test.run();
