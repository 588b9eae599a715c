import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ops, valueAndGrad } from '../../engine/index.ts';
import { rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';
import { opTable } from '../helpers/op-harness.ts';
import { BINARY_CASES } from './cases/binary.ts';
import { DIFFUSION_STEP_CASES } from './cases/diffusion-step.ts';
import { MATMUL_CASES } from './cases/matmul.ts';
import { REDUCE_CASES } from './cases/reduce.ts';
import { UNARY_CASES } from './cases/unary.ts';

opTable([...UNARY_CASES, ...BINARY_CASES, ...REDUCE_CASES, ...MATMUL_CASES, ...DIFFUSION_STEP_CASES]);

test('thousands of op calls return the pool to its starting live bytes', async () => {
  const engine = await getEngine();
  if (!engine) return;
  // Pool accounting only: any values do.
  const random = rng(1);
  const x = upload(engine, randomNd(random, [4, 33]));
  const w = upload(engine, randomNd(random, [8, 33]));
  const step = () => {
    const { value, grads } = valueAndGrad(engine, () => ops.mean(ops.silu(ops.linear(x, w))), [x, w]);
    value.dispose();
    grads.forEach((g) => g.dispose());
    engine.scope(() => {
      ops.relu(ops.add(x, ops.scale(x, 2)));
    });
  };
  for (let i = 0; i < 100; i++) step(); // warm the pool
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 1000; i++) step();
  await engine.sync();
  const after = engine.stats();
  console.log(`    live bytes ${before.liveBytes} → ${after.liveBytes}, live tensors ${before.liveTensors} → ${after.liveTensors}, peak ${after.peakBytes}, allocations ${after.allocations}, dispatches ${after.dispatches - before.dispatches}`);
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(after.allocations, before.allocations, 'a warm pool allocates nothing new');
  assert.is(after.lateCompiles, before.lateCompiles, 'every kernel was precompiled');
});

test.run();
