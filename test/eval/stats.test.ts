// The report's statistics against published values: Wilson intervals from Newcombe (1998,
// Statistics in Medicine 17:857, Table II, method 3: four decimals) and statsmodels'
// proportion_confint(method='wilson') (seven), exact McNemar p-values as binomial tails computed by hand, and the refusals that keep a wrong count from becoming a plausible number.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mcnemarExact, pairedMcnemar, summarize, wilsonInterval } from '../../engine/eval/stats.ts';

const close = (actual: number, expected: number, tol: number, what: string) => assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

test('Wilson 95 % intervals match published values, including at 0 and n successes', () => {
  const cases: [number, number, number, number, number][] = [
    [8, 10, 0.4901625, 0.9433178, 5e-8],
    [0, 10, 0, 0.2775328, 5e-8],
    [10, 10, 0.7224672, 1, 5e-8],
    [81, 263, 0.2553, 0.3662, 5e-5],
    [15, 148, 0.0624, 0.1605, 5e-5],
    [0, 20, 0, 0.1611, 5e-5],
    [1, 29, 0.0061, 0.1718, 5e-5],
  ];
  for (const [k, n, low, high, tol] of cases) {
    const ci = wilsonInterval(k, n);
    close(ci.low, low, tol, `${k}/${n} low`);
    close(ci.high, high, tol, `${k}/${n} high`);
  }
  assert.is(wilsonInterval(0, 10).low, 0);
  assert.is(wilsonInterval(10, 10).high, 1);
});

test('Wilson refuses counts that cannot be a proportion', () => {
  assert.throws(() => wilsonInterval(11, 10), /11 successes of 10/);
  assert.throws(() => wilsonInterval(-1, 10), /successes/);
  assert.throws(() => wilsonInterval(0, 0), /of 0/);
});

test('exact McNemar: known binomial tails, symmetric, 1 without discordance', () => {
  close(mcnemarExact(1, 9), 22 / 1024, 1e-15, 'b=1, c=9');
  close(mcnemarExact(9, 1), 22 / 1024, 1e-15, 'b=9, c=1');
  close(mcnemarExact(5, 15), (2 * (1 + 20 + 190 + 1140 + 4845 + 15504)) / 2 ** 20, 1e-15, 'b=5, c=15');
  close(mcnemarExact(0, 5), 2 / 32, 1e-15, 'b=0, c=5');
  assert.is(mcnemarExact(0, 0), 1);
  assert.is(mcnemarExact(7, 7), 1);
  assert.is(mcnemarExact(3, 4), 1);
  // Beyond 1,074 discordant pairs 0.5^n underflows; the log-space sum must still give the tail
  // (close to the continuity-corrected χ² value 0.00604 for b = 600, c = 700).
  const large = mcnemarExact(600, 700);
  assert.ok(large > 0.005 && large < 0.007, `b=600, c=700: ${large}`);
  assert.ok(mcnemarExact(2000, 2000) === 1 && mcnemarExact(1000, 1300) > 0);
});

test('McNemar refuses impossible counts; pairing refuses different image sets', () => {
  assert.throws(() => mcnemarExact(-1, 3), /non-negative integers/);
  assert.throws(() => mcnemarExact(1.5, 3), /non-negative integers/);
  assert.throws(() => pairedMcnemar([true, false], [true]), /same images/);
  const r = pairedMcnemar([true, true, false, true, false], [false, true, true, false, false]);
  assert.equal(r, { onlyFirst: 2, onlySecond: 1, p: 1 });
});

test('mean ± sample standard deviation over seeds', () => {
  const s = summarize([0.5, 0.75, 1, 0.25]);
  close(s.mean, 0.625, 1e-15, 'mean');
  close(s.std, Math.sqrt(0.3125 / 3), 1e-15, 'std');
  assert.equal(summarize([0.4]), { mean: 0.4, std: 0, perSeed: [0.4] });
  assert.throws(() => summarize([]), /no values/);
});

test.run();
