import { existsSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readPytorch } from '../../engine/io/pytorch.ts';
import { timestepEmbedding } from '../../engine/ops/embedding.ts';
import * as ref from '../../engine/reference/embedding.ts';
import { U, compareWithBound, describeComparison } from '../helpers/error-bound.ts';
import { getEngine } from '../helpers/gpu.ts';
import { opTable } from '../helpers/op-harness.ts';
import { EMBEDDING_CASES } from './cases/embedding.ts';

opTable(EMBEDDING_CASES);

const FRANFEE = new URL('../../../shared/data/weights/franfee-ddpm-mnist/model_unet_res.pth', import.meta.url);
const ALL_STEPS = Array.from({ length: 1000 }, (_, t) => t);

test('interleaved layout is sin, cos of t / 10000^(2i/dim) in column pairs', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const got = await timestepEmbedding(engine, [999], 16, 'interleaved').read();
  const expected = Array.from({ length: 16 }, (_, j) => {
    const angle = 999 / 10000 ** ((2 * Math.floor(j / 2)) / 16);
    return j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
  });
  // The same argument-and-sin bound as the table (cases/embedding.ts).
  const c = compareWithBound('interleaved t=999 dim 16', got, expected, expected.map(() => 2 * (8 * Math.PI + 2) * U));
  console.log(`    ${describeComparison(c)}`);
  assert.ok(c.pass, `worst error ${c.maxAbs}`);
});

test('matches the Franfee MNIST DDPM table up to that table\'s own f32 rounding', async () => {
  const engine = await getEngine();
  if (!engine) return;
  if (!existsSync(FRANFEE)) {
    console.log('    SKIP: checkpoint not found');
    return;
  }
  const table = readPytorch(new Uint8Array(readFileSync(FRANFEE)), 'franfee').get('pe.embedding.weight');
  assert.ok(table, 'pe.embedding.weight present');
  assert.equal(table.shape, [1000, 128]);
  const stored = table.data as Float32Array;
  // PyTorch computed it in f32 as sin(f32(t / f32(10000^(2i/128)))). Reproducing that bit for bit
  // shows the stored table is this, up to the last-bit disagreements of f32 sin libraries (2 ulps).
  const f = Math.fround;
  const angleOf = (k: number) => f(Math.floor(k / 128) / f(10000 ** ((2 * Math.floor((k % 128) / 2)) / 128)));
  const torchF32 = stored.map((_, k) => f(k % 2 === 0 ? Math.sin(angleOf(k)) : Math.cos(angleOf(k))));
  const simulated = compareWithBound('stored table vs simulated PyTorch f32', stored, torchF32, torchF32.map((v) => 4 * U * Math.abs(v)));
  // Its rounded argument (two roundings of up to 999 rad) moves sin by ≤ 2U·|angle|; ours is exact.
  const ours = await timestepEmbedding(engine, ALL_STEPS, 128, 'interleaved').read();
  const argument = stored.map((_, k) => 2 * 2 * U * Math.abs(angleOf(k)) + 2 * (8 * Math.PI + 2) * U);
  const vsTable = compareWithBound('timestepEmbedding vs stored table', ours, stored, argument);
  const tableVsExact = compareWithBound('stored table vs float64', stored, ref.timestepEmbedding(ALL_STEPS, 128, 'interleaved').data, argument);
  for (const c of [simulated, vsTable, tableVsExact]) console.log(`    ${describeComparison(c)}`);
  assert.ok(simulated.pass && vsTable.pass && tableVsExact.pass);
});

test('invalid arguments are rejected', async () => {
  const engine = await getEngine();
  if (!engine) return;
  assert.throws(() => timestepEmbedding(engine, [1], 7, 'interleaved'), /even dim/);
  assert.throws(() => timestepEmbedding(engine, [1], 2, 'sin-cos', { downscaleFreqShift: 1 }), /downscaleFreqShift/);
  assert.throws(() => timestepEmbedding(engine, [NaN], 8, 'sin-cos'), /finite/);
  assert.throws(() => timestepEmbedding(engine, [], 8, 'sin-cos'), /non-empty/);
});

test.run();
