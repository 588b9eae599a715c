// Numeric comparison with a report: max abs and max rel error and where the worst one is.
import * as assert from 'uvu/assert';

export interface CloseReport {
  maxAbs: number;
  maxRel: number;
  worst: number;
}

/**
 * rel error = |a−e| / max(|e|, floor · max|e|): the floor, a fraction of the array's largest
 * magnitude, keeps entries that cancel to near zero from dominating.
 */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-2): CloseReport {
  assert.is(actual.length, expected.length, 'length');
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const denomFloor = Math.max(floor * scale, 1e-30);
  let maxAbs = 0, maxRel = 0, worst = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (!Number.isFinite(a)) return { maxAbs: Infinity, maxRel: Infinity, worst: i };
    const abs = Math.abs(a - e);
    const rel = abs / Math.max(Math.abs(e), denomFloor);
    if (abs > maxAbs) maxAbs = abs;
    if (rel > maxRel) { maxRel = rel; worst = i; }
  }
  return { maxAbs, maxRel, worst };
}

export function assertClose(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-4, floor = 1e-2): CloseReport {
  const r = compare(actual, expected, floor);
  console.log(`    ${name.padEnd(48)} maxAbs ${r.maxAbs.toExponential(2)}  maxRel ${r.maxRel.toExponential(2)}`);
  if (!(r.maxRel <= tol)) {
    assert.unreachable(`${name}: max rel error ${r.maxRel.toExponential(3)} > ${tol} at index ${r.worst}: got ${actual[r.worst]}, expected ${expected[r.worst]}`);
  }
  return r;
}

/** Seeded PRNG (mulberry32) so failures reproduce; the seed is printed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function freshSeed(): number {
  return Number(process.env.PURIFY_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
}

export function randn(random: () => number, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(random(), 1e-12), v = random();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** Central finite differences of a scalar function of x (float64), at every index of `indices`. */
export function finiteDiff(f: (x: Float64Array) => number, x: Float64Array, indices: number[], h = 1e-5): number[] {
  return indices.map((i) => {
    const xp = Float64Array.from(x); xp[i] += h;
    const xm = Float64Array.from(x); xm[i] -= h;
    return (f(xp) - f(xm)) / (2 * h);
  });
}
