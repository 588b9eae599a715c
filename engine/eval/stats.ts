// The statistics an evaluation report needs to say whether a difference is real: Wilson score
// intervals for an accuracy over N images, the exact McNemar test for two defences scored on the
// same images (paired), and mean ± standard deviation over seeds.

/** z for a two-sided 95 % interval (the 0.975 quantile of the standard normal). */
const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/**
 * Wilson's score interval for `successes` of `n` (Wilson 1927). Unlike p ± z·sqrt(p(1−p)/n) it stays
 * inside [0, 1] and does not collapse to a point at 0 or n successes, the usual case for robust accuracy.
 */
export function wilsonInterval(successes: number, n: number, z = Z95): Interval {
  if (!(n > 0) || !(successes >= 0 && successes <= n)) throw new RangeError(`wilsonInterval: ${successes} successes of ${n}`);
  const p = successes / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  // At 0 or n successes one bound is exactly 0 or 1; rounding must not move it.
  return { low: successes === 0 ? 0 : Math.max(0, centre - half), high: successes === n ? 1 : Math.min(1, centre + half) };
}

/**
 * Wilson's interval for an image count averaged over seeds or scoring draws (possibly fractional),
 * at the nearest whole count: the interval every report table and JSON gives beside a mean accuracy.
 */
export const wilsonAtMeanCount = (meanCount: number, n: number): Interval => wilsonInterval(Math.round(meanCount), n);

/** `successes` of `n` as a percentage with its Wilson 95 % interval, e.g. "81.1 % [78.6, 83.4]". */
export function percentWithInterval(successes: number, n: number, digits = 1): string {
  const ci = wilsonInterval(successes, n);
  const pct = (v: number) => (100 * v).toFixed(digits);
  return `${pct(successes / n)} % [${pct(ci.low)}, ${pct(ci.high)}]`;
}

/** log C(n, k) for k = 0…n, by the product recurrence (exact enough for n in the tens of thousands). */
function logBinomials(n: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let k = 1; k <= n; k++) out[k] = out[k - 1] + Math.log((n - k + 1) / k);
  return out;
}

/**
 * The exact two-sided McNemar p-value for b and c discordant pairs: under H0 each discordant pair
 * is equally likely either way, so min(b, c) ~ Binomial(b + c, ½) and p = min(1, 2·P(X ≤ min(b, c))).
 * Summed in log space: 0.5^(b+c) underflows beyond about 1,074 discordant pairs.
 */
export function mcnemarExact(b: number, c: number): number {
  if (!(Number.isInteger(b) && Number.isInteger(c) && b >= 0 && c >= 0)) throw new RangeError(`mcnemarExact: discordant counts must be non-negative integers, got ${b}, ${c}`);
  const n = b + c;
  // |b − c| ≤ 1 puts the median of X in the tail: P(X ≤ min) ≥ ½ exactly, so p = 1 (not 1 − rounding).
  if (Math.abs(b - c) <= 1) return 1;
  const logC = logBinomials(n);
  const logHalfN = -n * Math.LN2;
  let tail = 0;
  for (let k = 0; k <= Math.min(b, c); k++) tail += Math.exp(logC[k] + logHalfN);
  return Math.min(1, 2 * tail);
}

export interface PairedComparison {
  /** Images only the first got right. */
  onlyFirst: number;
  /** Images only the second got right. */
  onlySecond: number;
  p: number;
}

/** McNemar's test on two per-image flag vectors over the same images. */
export function pairedMcnemar(first: readonly boolean[], second: readonly boolean[]): PairedComparison {
  if (first.length !== second.length) throw new RangeError(`pairedMcnemar: ${first.length} vs ${second.length} images; pairing needs the same images`);
  let onlyFirst = 0;
  let onlySecond = 0;
  for (let i = 0; i < first.length; i++) {
    if (first[i] && !second[i]) onlyFirst++;
    else if (second[i] && !first[i]) onlySecond++;
  }
  return { onlyFirst, onlySecond, p: mcnemarExact(onlyFirst, onlySecond) };
}

export interface Summary {
  mean: number;
  /** Sample standard deviation (n − 1); 0 for one value. */
  std: number;
  perSeed: number[];
}

export function summarize(values: number[]): Summary {
  if (!values.length) throw new RangeError('summarize: no values');
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, std, perSeed: values };
}
