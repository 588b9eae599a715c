import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromArray } from '../../engine/ops/index.ts';
import { batchNormInference, groupNorm, layerNormCHW } from '../../engine/ops/norm.ts';
import * as ref from '../../engine/reference/norm.ts';
import { map } from '../../engine/reference/nd.ts';
import { rng } from '../helpers/check.ts';
import { U, compareWithBound, describeComparison } from '../helpers/error-bound.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';
import { opTable } from '../helpers/op-harness.ts';
import { testSeed } from '../helpers/seed.ts';
import { NORM_CASES } from './cases/norm.ts';

const seed = testSeed();
opTable(NORM_CASES, seed);

const random = rng(seed);

test('statistics stay accurate under a large common offset (two-pass, shifted sums)', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const shape = [2, 64, 16, 16];
  const x = map(randomNd(random, shape), (v) => Math.fround(1000 + v));
  const gamma = map(randomNd(random, [64], 0.3), (v) => Math.fround(1 + v)), beta = randomNd(random, [64], 0.5);
  const y = await groupNorm(upload(engine, x), 32, upload(engine, gamma), upload(engine, beta)).read();
  const expected = ref.groupNorm(x, 32, gamma, beta);
  // Subtracting the row's first value first leaves deviations of O(1): x̂ then errs by a few
  // hundred U (the 512-term sums), where an unshifted mean of values near 1000 would err by
  // ~512·U·1000 = 3e-2. 1000 U (6e-5) of the |γ|·|x̂| + |β| scale passes the first, not the second.
  const bound = expected.data.map((_, i) => 1000 * U * (Math.abs(gamma.data[Math.floor(i / 256) % 64]) * 4 + Math.abs(beta.data[Math.floor(i / 256) % 64])));
  const c = compareWithBound('groupNorm [2,64,16,16] around 1000', y, expected.data, bound);
  console.log(`    ${describeComparison(c)}`);
  assert.ok(c.pass, `worst error ${c.maxAbs}`);
});

test('inference calls leave no tensors behind; wrong shapes are rejected', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [2, 6, 3, 3]));
  const p = fromArray(engine, new Float32Array(6).fill(1), [6]);
  const before = engine.liveTensors.size;
  const outs = [groupNorm(x, 3, p, p, { silu: true }), batchNormInference(x, p, p, p, p)];
  assert.is(engine.liveTensors.size, before + outs.length, 'only the outputs stay alive');
  assert.throws(() => groupNorm(x, 4, p, p), /groups/);
  assert.throws(() => layerNormCHW(x, p, p), /54 values/);
  for (const t of [x, p, ...outs]) t.dispose();
});

test.run();
