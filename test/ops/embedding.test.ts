import { existsSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readPytorch } from '../../engine/io/pytorch.ts';
import { embeddingKernels, timestepEmbedding, type EmbeddingLayout } from '../../engine/ops/embedding.ts';
import * as ref from '../../engine/reference/embedding.ts';
import { assertClose, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

const FRANFEE = new URL('../../../shared/data/weights/franfee-ddpm-mnist/model_unet_res.pth', import.meta.url);
const ALL_STEPS = Array.from({ length: 1000 }, (_, t) => t);

async function engineWithKernels() {
  const engine = await getEngine();
  await engine?.precompile(embeddingKernels());
  return engine;
}

// Floor 1 makes assertClose's relative error an absolute one for values in [−1, 1].
const ABS_TOL = 1e-5;

test('all layouts match float64 for t in [0, 999], odd dims, shifts and periods', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const cases: [number, EmbeddingLayout, number, number][] = [
    [128, 'interleaved', 10000, 0], [128, 'sin-cos', 10000, 1], [32, 'cos-sin', 10000, 0], [7, 'sin-cos', 10000, 1],
    [9, 'cos-sin', 100, 0], [2, 'interleaved', 10000, 0], [64, 'sin-cos', 10000, 0],
  ];
  for (const [dim, layout, maxPeriod, shift] of cases) {
    const out = timestepEmbedding(engine, ALL_STEPS, dim, layout, { maxPeriod, downscaleFreqShift: shift });
    assert.equal([...out.shape], [1000, dim]);
    const expected = ref.timestepEmbedding(ALL_STEPS, dim, layout, maxPeriod, shift);
    assertClose(`${layout} dim ${dim} period ${maxPeriod} shift ${shift} (abs error)`, await out.read(), expected.data, ABS_TOL, 1);
    out.dispose();
  }
});

test('fractional, large and random timesteps keep the argument exact', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  // Timesteps travel as f32, so the reference gets the same rounded values.
  const steps = [0.5, 998.75, 4095, 2500.25, ...Array.from({ length: 61 }, () => random() * 1000)].map(Math.fround);
  const out = timestepEmbedding(engine, steps, 128, 'sin-cos');
  assertClose('sin-cos, fractional and up to 4095 (abs error)', await out.read(), ref.timestepEmbedding(steps, 128, 'sin-cos').data, ABS_TOL, 1);
});

test('interleaved layout is sin, cos of t / 10000^(2i/dim) in column pairs', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const got = await timestepEmbedding(engine, [999], 16, 'interleaved').read();
  const expected = Array.from({ length: 16 }, (_, j) => {
    const angle = 999 / 10000 ** ((2 * Math.floor(j / 2)) / 16);
    return j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
  });
  assertClose('interleaved t=999 dim 16 (abs error)', got, expected, ABS_TOL, 1);
});

test('matches the Franfee MNIST DDPM table up to that table\'s own f32 rounding', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  if (!existsSync(FRANFEE)) {
    console.log('    SKIP: checkpoint not found');
    return;
  }
  const table = readPytorch(new Uint8Array(readFileSync(FRANFEE)), 'franfee').get('pe.embedding.weight');
  assert.ok(table, 'pe.embedding.weight present');
  assert.equal(table.shape, [1000, 128]);
  const stored = table.data as Float32Array;
  // PyTorch computed it in f32 as sin(f32(t / f32(10000^(2i/128)))): rounding the argument, up to
  // 999 rad, costs up to ~6e-5. Reproduce that to show the stored table is exactly this, then
  // compare our float64-accurate embedding with a tolerance covering it.
  const f = Math.fround;
  const torchF32 = stored.map((_, k) => {
    const [t, j] = [Math.floor(k / 128), k % 128];
    const angle = f(t / f(10000 ** ((2 * Math.floor(j / 2)) / 128)));
    return f(j % 2 === 0 ? Math.sin(angle) : Math.cos(angle));
  });
  assertClose('stored table vs simulated PyTorch f32 (abs error)', stored, torchF32, 1e-7, 1);
  const ours = await timestepEmbedding(engine, ALL_STEPS, 128, 'interleaved').read();
  assertClose('timestepEmbedding vs stored table (abs error)', ours, stored, 1e-4, 1);
  assertClose('stored table vs float64 (abs error, for scale)', stored, ref.timestepEmbedding(ALL_STEPS, 128, 'interleaved').data, 1e-4, 1);
});

test('invalid arguments are rejected', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  assert.throws(() => timestepEmbedding(engine, [1], 7, 'interleaved'), /even dim/);
  assert.throws(() => timestepEmbedding(engine, [1], 2, 'sin-cos', { downscaleFreqShift: 1 }), /downscaleFreqShift/);
  assert.throws(() => timestepEmbedding(engine, [NaN], 8, 'sin-cos'), /finite/);
  assert.throws(() => timestepEmbedding(engine, [], 8, 'sin-cos'), /non-empty/);
  assert.is(engine.stats().lateCompiles, 0, 'embeddingKernels() lists the kernel');
});

test.run();
