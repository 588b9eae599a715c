import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad } from '../../engine/index.ts';
import { sum } from '../../engine/ops/index.ts';
import { conv2d, convTranspose2d } from '../../engine/ops/conv.ts';
import { rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';
import { opTable } from '../helpers/op-harness.ts';
import { CONV_CASES } from './cases/conv.ts';

opTable(CONV_CASES);

// Shapes and error messages only: any values do.
const random = rng(1);

test('shape errors are reported', async () => {
  const engine = await getEngine();
  if (!engine) return;
  engine.scope(() => {
    const x = upload(engine, randomNd(random, [1, 3, 5, 5]));
    const weight = (shape: number[]) => upload(engine, randomNd(random, shape));
    assert.throws(() => conv2d(x, weight([4, 2, 3, 3])), /3 channels/);
    assert.throws(() => conv2d(x, weight([4, 3, 7, 7])), /does not fit/);
    assert.throws(() => convTranspose2d(x, weight([3, 2, 2, 2]), undefined, { stride: 2, outputPadding: 2 }), /outputPadding/);
    assert.throws(() => conv2d(x, weight([4, 3, 3, 3]), weight([3])), /bias/);
  });
});

test('repeated conv forward + backward returns the pool to its starting live bytes', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [2, 3, 13, 13]));
  const w = upload(engine, randomNd(random, [8, 3, 3, 3]));
  const wt = upload(engine, randomNd(random, [8, 4, 2, 2]));
  const step = () => {
    const { value, grads } = valueAndGrad(engine, () => sum(convTranspose2d(conv2d(x, w, undefined, { stride: 2, padding: 1, activation: 'relu' }), wt, undefined, { stride: 2 })), [x, w, wt]);
    value.dispose();
    grads.forEach((g) => g.dispose());
  };
  // Warm up over a whole cycle of submit boundaries (64 dispatches) against the step's dispatch count.
  for (let i = 0; i < 100; i++) step();
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 200; i++) step();
  await engine.sync();
  const after = engine.stats();
  console.log(`    live bytes ${before.liveBytes} → ${after.liveBytes}, live tensors ${before.liveTensors} → ${after.liveTensors}, dispatches ${after.dispatches - before.dispatches}`);
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(after.allocations, before.allocations, 'a warm pool allocates nothing new');
});

test.run();
