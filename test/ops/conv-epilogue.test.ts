// The conv forward's shape-chosen register tiles and its fused residual epilogue, for every tile a
// tuning may pick (engine/ops/tuning.ts), against the float64 reference on odd shapes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../../engine/index.ts';
import { conv2d, convKernels } from '../../engine/ops/conv.ts';
import { TUNING_VARIANTS, withConvTile, type ConvTile } from '../../engine/ops/tuning.ts';
import * as ref from '../../engine/reference/conv.ts';
import { map, type Nd } from '../../engine/reference/nd.ts';
import { compareWithBound, describeComparison, describeFailure, U } from '../helpers/error-bound.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';
import { caseRandom, testSeed } from '../helpers/seed.ts';

const seed = testSeed();

const absNd = (x: Nd) => map(x, Math.abs);

/**
 * f32 bound per output: the K = Cin·KH·KW products and the bias and residual additions each round
 * once per partial sum, so |error| ≤ (K + 2)·U·Σ|terms| (a ReLU after it only shrinks the error).
 */
function bound(x: Nd, w: Nd, b: Nd, r: Nd, padding: number): number[] {
  const K = w.shape[1] * w.shape[2] * w.shape[3];
  const terms = ref.conv2d(absNd(x), absNd(w), absNd(b), { padding });
  return Array.from(terms.data, (t, i) => (K + 2) * U * (t + Math.abs(r.data[i])));
}

const SHAPES: { n: number; cin: number; cout: number; h: number; w: number }[] = [
  { n: 2, cin: 3, cout: 10, h: 9, w: 13 }, // 12-channel tiles, a partial 8-pixel row
  { n: 3, cin: 5, cout: 16, h: 3, w: 3 }, // 16×4 tiles
  { n: 1, cin: 7, cout: 20, h: 5, w: 6 },
  { n: 2, cin: 2, cout: 1, h: 7, w: 4 },
];

const tilesOf = (variant: string): ConvTile[] => [...TUNING_VARIANTS[variant].conv.forwardTiles];

test('every forward tile of every tuning, with and without the fused residual + ReLU, matches float64', async () => {
  const base = await getEngine();
  if (!base) return;
  for (const variant of Object.keys(TUNING_VARIANTS)) {
    for (const tile of tilesOf(variant)) {
      const engine = await Engine.create({ tuning: withConvTile(TUNING_VARIANTS[variant], tile) });
      await engine.precompile(convKernels(engine.tuning));
      for (const s of SHAPES) {
        const name = `${engine.tuning.name} [${s.n},${s.cin},${s.h},${s.w}]→${s.cout}`;
        const random = caseRandom(seed, name);
        const x = randomNd(random, [s.n, s.cin, s.h, s.w]);
        const w = randomNd(random, [s.cout, s.cin, 3, 3]);
        const b = randomNd(random, [s.cout]);
        const r = randomNd(random, [s.n, s.cout, s.h, s.w]);
        const plain = ref.conv2d(x, w, b, { padding: 1 });
        const fused = map(plain, (v, i) => Math.max(0, v + r.data[i]));
        const limit = bound(x, w, b, r, 1);
        const [xt, wt, bt, rt] = [x, w, b, r].map((v) => upload(engine, v));
        const got = [
          ['', await conv2d(xt, wt, bt, { padding: 1 }).read(), plain],
          [' + residual, relu', await conv2d(xt, wt, bt, { padding: 1, residual: rt, activation: 'relu' }).read(), fused],
        ] as const;
        for (const [what, values, expected] of got) {
          const c = compareWithBound(`${name}${what}`, values, expected.data, limit);
          console.log(`    ${describeComparison(c)}`);
          if (!c.pass) assert.unreachable(describeFailure(c, values, expected.data, limit));
        }
        for (const t of [xt, wt, bt, rt]) t.dispose();
      }
      assert.is(engine.stats().lateCompiles, 0, `${engine.tuning.name}: kernels compiled late`);
      engine.destroy();
    }
  }
});

test('a dropped residual fails the bound (the check can fail)', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const random = caseRandom(seed, 'dropped residual');
  const x = randomNd(random, [1, 4, 5, 5]), w = randomNd(random, [8, 4, 3, 3]), b = randomNd(random, [8]), r = randomNd(random, [1, 8, 5, 5]);
  const expected = map(ref.conv2d(x, w, b, { padding: 1 }), (v, i) => v + r.data[i]);
  const got = await conv2d(upload(engine, x), upload(engine, w), upload(engine, b), { padding: 1 }).read();
  assert.not.ok(compareWithBound('without residual', got, expected.data, bound(x, w, b, r, 1)).pass);
});

test('a residual of the wrong shape is refused with both shapes named', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = upload(engine, randomNd(caseRandom(seed, 'shape'), [1, 2, 4, 4]));
  const w = upload(engine, randomNd(caseRandom(seed, 'w'), [3, 2, 3, 3]));
  const r = upload(engine, randomNd(caseRandom(seed, 'r'), [1, 3, 4, 5]));
  assert.throws(() => conv2d(x, w, undefined, { padding: 1, residual: r }), /residual \[1,3,4,5\] must have the output's shape \[1,3,4,4\]/);
});

test.run();
