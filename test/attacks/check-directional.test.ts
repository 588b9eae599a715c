// The finite-difference check the attack tests lean on (fixtures.ts checkDirectional): it passes a
// true gradient, including a one-sided one at a kink at x, and fails a wrong gradient at a smooth
// point and at a kink (one the central difference cannot mistake for the sides' average). Plain functions of a few variables, no GPU.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freshSeed, randn, rng } from '../helpers/check.ts';
import { checkDirectional, unitDirection } from './fixtures.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);
const n = 7;

const f32 = async (v: number) => Math.fround(v);
// A smooth function with curvature: Σ sin(2x) + x².
const smooth = (x: Float32Array) => f32(x.reduce((s, v) => s + Math.sin(2 * v) + v * v, 0));
const smoothGrad = (x: Float32Array) => x.map((v) => 2 * Math.cos(2 * v) + 2 * v);
// Clamped at x₀'s current value: a kink exactly at x, like a purified pixel sitting on the [0, 1] clamp.
const kinkAt = (x0: Float32Array) => (x: Float32Array) => f32(x.reduce((s, v, i) => s + Math.sin(2 * v), 0) + Math.min(x[0], x0[0]));

const fails = (p: Promise<unknown>) => p.then(() => false, () => true);

test('passes the true gradient of a smooth function and fails it perturbed by 1 % of its norm', async () => {
  const x = Float32Array.from(randn(random, n));
  const v = unitDirection(random, n);
  const g = smoothGrad(x);
  assert.ok((await checkDirectional('smooth, true', g, x, v, smooth, 1e-3, 2e-3)) <= 2e-3);
  const norm = Math.hypot(...g);
  const wrong = g.map((gi, i) => gi + 0.01 * norm * v[i]);
  assert.ok(await fails(checkDirectional('smooth, wrong', wrong, x, v, smooth, 1e-3, 2e-3)), 'a 1 % error passed');
});

test('at a kink at x, passes either one-sided gradient and fails one beyond both sides', async () => {
  const x = Float32Array.from(randn(random, n));
  const v = unitDirection(random, n);
  v[0] = (v[0] >= 0 ? 1 : -1) * Math.max(Math.abs(v[0]), 0.3); // the kink must show along v
  const loss = kinkAt(x);
  const base = x.map((xi) => 2 * Math.cos(2 * xi));
  const withKinkSide = base.map((gi, i) => (i === 0 ? gi + 1 : gi));
  for (const [name, g] of [['one side', withKinkSide], ['the other side', base]] as const) {
    assert.ok((await checkDirectional(`kink, ${name}`, g, x, v, loss, 1e-3, 2e-3)) <= 2e-3, `${name} failed`);
  }
  // (Their average is what the central difference sees, and passes by design.)
  const beyond = base.map((gi, i) => (i === 0 ? gi - 1 : gi));
  assert.ok(await fails(checkDirectional('kink, a jump beyond both sides', beyond, x, v, loss, 1e-3, 2e-3)), 'a gradient matching neither side passed');
});

test.run();
