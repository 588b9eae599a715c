import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scaledDotProductAttention } from '../../engine/ops/attention.ts';
import { logSoftmax, softmax } from '../../engine/ops/softmax.ts';
import { nd } from '../../engine/reference/nd.ts';
import { rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';
import { opTable } from '../helpers/op-harness.ts';
import { ATTENTION_CASES, SOFTMAX_CASES } from './cases/softmax.ts';

opTable([...SOFTMAX_CASES, ...ATTENTION_CASES]);

test('softmax of an exactly representable extreme row: no overflow, no NaN', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = nd([2, 4], [1000, -1000, 0, 1000, -3e38, -3e38, -3e38, -3e38]);
  const got = await softmax(upload(engine, x)).read();
  assert.equal([...got], [0.5, 0, 0, 0.5, 0.25, 0.25, 0.25, 0.25]);
  const logGot = await logSoftmax(upload(engine, x)).read();
  assert.equal([...logGot.slice(0, 4)].map((v) => Math.fround(v)), [-Math.LN2, -2000 - Math.LN2, -1000 - Math.LN2, -Math.LN2].map(Math.fround));
});

test('attention outside a gradient keeps no intermediates alive', async () => {
  const engine = await getEngine();
  if (!engine) return;
  // Tensor accounting only: any values do.
  const random = rng(1);
  const q = upload(engine, randomNd(random, [2, 9, 4]));
  const before = engine.liveTensors.size;
  const out = scaledDotProductAttention(q, q, q);
  assert.is(engine.liveTensors.size, before + 1);
  assert.throws(() => scaledDotProductAttention(q, upload(engine, randomNd(random, [2, 9, 5])), q), /do not fit/);
  out.dispose();
  q.dispose();
});

test.run();
