import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ops } from '../../engine/index.ts';
import { cosineSchedule, ddimCoefficients, ddpmCoefficients, linearSchedule, stepSubset, vpAlphaBar, vpTimeToStep } from '../../engine/diffusion/schedule.ts';
import { philoxReference, randomNormalReference } from '../../engine/ops/random.ts';
import { assertClose } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';

test('linear schedule matches the closed forms and the documented reference values', () => {
  const s = linearSchedule();
  assert.is(s.T, 1000);
  assert.ok(Math.abs(s.betas[0] - 1e-4) < 1e-15 && Math.abs(s.betas[999] - 0.02) < 1e-15);
  let prod = 1;
  for (let t = 0; t < 1000; t++) {
    prod *= 1 - (1e-4 + (0.02 - 1e-4) * (t / 999));
    assert.ok(Math.abs(s.alphaBars[t] - prod) < 1e-14, `ᾱ[${t}]`);
  }
  // shared/docs/method.md §1.3 table (ᾱ at the DiffPure/AGDM depths, 1-based t ↔ index t−1).
  for (const [t, ab] of [[36, 0.984], [70, 0.9464], [100, 0.897], [150, 0.7883]] as const) {
    assert.ok(Math.abs(s.alphaBars[t - 1] - ab) < 6e-4, `ᾱ at t=${t}: ${s.alphaBars[t - 1]}`);
  }
  // DiffPure's VP-SDE: t* = 0.1 ↔ step 100 (index 99), continuous ᾱ close to the discrete one.
  assert.is(vpTimeToStep(0.1), 99);
  assert.ok(Math.abs(vpAlphaBar(0.1) - s.alphaBars[99]) < 1e-3);
  const c = cosineSchedule();
  assert.ok(c.alphaBars[0] > 0.9999 && c.alphaBars[999] < 1e-3);
});

test('DDPM posterior coefficients equal the posterior of q(x_{t-1} | x_t, x0)', () => {
  const s = linearSchedule();
  for (const t of [1, 35, 69, 99, 500]) {
    const c = ddpmCoefficients(s, t);
    const ab = s.alphaBars[t], abp = s.alphaBars[t - 1], beta = s.betas[t];
    // Mean of q(x_{t−1}|x_t,x0) for x0 = 1, x_t = 0 and x0 = 0, x_t = 1, from Bayes' rule on Gaussians.
    const precision = 1 / (1 - abp) + (1 - beta) / beta;
    const mean = (x0: number, xt: number) => ((Math.sqrt(abp) * x0) / (1 - abp) + (Math.sqrt(1 - beta) * xt) / beta) / precision;
    assert.ok(Math.abs(c.coefX0 - mean(1, 0)) < 1e-12 && Math.abs(c.coefXt - mean(0, 1)) < 1e-12, `t=${t}`);
    assert.ok(Math.abs(c.variance - 1 / precision) < 1e-15);
    assert.ok(Math.abs(ddpmCoefficients(s, t, 'fixedlarge').variance - beta) < 1e-15);
    assert.ok(Math.abs(c.sqrtAlphaBar ** 2 - ab) < 1e-15);
  }
  const d = ddimCoefficients(s, 99, 49, 0);
  assert.is(d.sigma, 0);
  assert.ok(Math.abs(d.dirEps - Math.sqrt(1 - s.alphaBars[49])) < 1e-15);
  assert.equal(stepSubset(99, 4), [99, 66, 33, 0]);
});

test('Philox noise: GPU equals the TypeScript reference and is split invariant', async () => {
  // Known-answer test of Philox4x32-10 (Random123 test vector, counter = key = 0).
  assert.equal(philoxReference([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  const engine = await getEngine();
  if (!engine) return;
  const key = { seed: 123456789012, stream: 7 };
  const whole = await ops.randomNormal(engine, [5, 3, 11, 13], key).read();
  assertClose('random_normal vs reference', whole, randomNormalReference([5, 3, 11, 13], key), 1e-4);
  const tail = await ops.randomNormal(engine, [2, 3, 11, 13], { ...key, firstRow: 3 }).read();
  assert.equal(Array.from(tail), Array.from(whole.subarray(3 * 429)), 'rows 3..4 are the same when generated alone');
  const other = await ops.randomNormal(engine, [5, 3, 11, 13], { ...key, stream: 8 }).read();
  assert.ok(other[0] !== whole[0], 'streams differ');
  const big = await ops.randomNormal(engine, [200000], { seed: 1, stream: 0 }).read();
  const mean = big.reduce((a, b) => a + b, 0) / big.length;
  const variance = big.reduce((a, b) => a + (b - mean) ** 2, 0) / big.length;
  console.log(`    200k samples: mean ${mean.toFixed(4)}, variance ${variance.toFixed(4)}`);
  assert.ok(Math.abs(mean) < 0.01 && Math.abs(variance - 1) < 0.01);
});

test.run();
