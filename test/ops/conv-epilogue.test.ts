// The conv passes' shape-chosen register tiles and the forward's fused residual and per-sample bias
// epilogues, for every tile a tuning may pick (engine/ops/tuning.ts), against the float64 reference
// on odd shapes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine, valueAndGrad } from '../../engine/index.ts';
import { conv2d, convKernels, convTranspose2d } from '../../engine/ops/conv.ts';
import { SOFTWARE_TUNING, TUNING_VARIANTS, withConvTile, type ConvTile, type ConvTilePass, type Tuning } from '../../engine/ops/tuning.ts';
import * as ref from '../../engine/reference/conv.ts';
import { map, type Nd } from '../../engine/reference/nd.ts';
import { compareWithBound, describeComparison, describeFailure, U } from '../helpers/error-bound.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';
import { caseRandom, testSeed } from '../helpers/seed.ts';

const seed = testSeed();

const absNd = (x: Nd) => map(x, Math.abs);

/**
 * f32 bound per output: its K = Cin·KH·KW products at most (x's channels; a transposed output
 * gathers some of the taps) and the bias and residual additions each round once per partial sum,
 * so |error| ≤ (K + 2)·U·Σ|terms| (a ReLU after it only shrinks the error). `terms` is the op on
 * |x|, |w|, |b|.
 */
function bound(terms: Nd, x: Nd, w: Nd, r?: Nd): number[] {
  const K = x.shape[1] * w.shape[2] * w.shape[3];
  return Array.from(terms.data, (t, i) => (K + 2) * U * (t + Math.abs(r?.data[i] ?? 0)));
}

/** x [N, C, H, W] + v [N, C] broadcast over each image's channel planes. */
function plusSampleBias(x: Nd, v: Nd): Nd {
  const plane = x.shape[2] * x.shape[3];
  return map(x, (value, i) => value + v.data[Math.floor(i / plane)]);
}

/** v [N, C] broadcast to [N, C, H, W] (a bound's term). */
const broadcastSampleBias = (v: Nd, like: Nd) => plusSampleBias(map(like, () => 0), v);

/** Odd shapes per precompiled kernel: partial pixel rows, partial channel blocks, rows narrower than a vec4. */
const KERNELS: { k: number; stride: number; padding: number; shapes: { n: number; cin: number; cout: number; h: number; w: number }[] }[] = [
  {
    k: 3,
    stride: 1,
    padding: 1,
    shapes: [
      { n: 2, cin: 3, cout: 10, h: 9, w: 13 }, // 12-channel tiles, a partial 8-pixel row
      { n: 3, cin: 5, cout: 16, h: 3, w: 3 }, // 16×4 tiles
      { n: 1, cin: 7, cout: 20, h: 5, w: 6 },
      { n: 2, cin: 2, cout: 1, h: 7, w: 4 },
    ],
  },
  { k: 1, stride: 1, padding: 0, shapes: [{ n: 2, cin: 3, cout: 10, h: 5, w: 13 }, { n: 1, cin: 9, cout: 20, h: 3, w: 3 }] },
  { k: 2, stride: 2, padding: 0, shapes: [{ n: 2, cin: 3, cout: 10, h: 7, w: 13 }, { n: 1, cin: 9, cout: 20, h: 6, w: 6 }] },
];

const PASSES: ConvTilePass[] = ['forward', 'transposed'];

/** The candidate tiles of every pass and precompiled kernel of a tuning, without repeats. */
function candidateTiles(tuning: Tuning): ConvTile[] {
  const all = PASSES.flatMap((pass) => KERNELS.flatMap(({ k, stride }) => tuning.conv.candidates(pass, k, stride)));
  return all.filter((t, i) => all.findIndex((u) => u.channels === t.channels && u.vec4Pixels === t.vec4Pixels) === i);
}

/** Shapes whose rule picks a tile its candidates do not list (it would compile late, untested). */
function picksOutsideCandidates(tuning: Tuning): string[] {
  const found: string[] = [];
  for (const pass of PASSES) {
    for (const { k, stride } of KERNELS) {
      const candidates = tuning.conv.candidates(pass, k, stride);
      for (const outChannels of [1, 3, 4, 8, 10, 16, 20, 24, 40, 64, 80, 128, 256]) {
        for (const outWidth of [1, 3, 4, 6, 7, 8, 12, 14, 16, 28, 32, 64]) {
          const t = tuning.conv[pass]({ kernel: k, stride, outChannels, outWidth });
          if (!candidates.some((c) => c.channels === t.channels && c.vec4Pixels === t.vec4Pixels)) found.push(`${pass} k${k} s${stride} ${outChannels}ch ${outWidth}px → ${t.channels}x${4 * t.vec4Pixels}`);
        }
      }
    }
  }
  return found;
}

test('every tile the rules pick is a precompiled candidate', () => {
  for (const tuning of Object.values(TUNING_VARIANTS)) assert.equal(picksOutsideCandidates(tuning), [], tuning.name);
  // The check can fail: a rule that picks a tile nobody listed.
  const broken: Tuning = { ...SOFTWARE_TUNING, conv: { ...SOFTWARE_TUNING.conv, forward: () => ({ channels: 20, vec4Pixels: 1 }) } };
  assert.ok(picksOutsideCandidates(broken).length > 0);
});

test('every candidate tile of both passes, for each precompiled kernel, with and without the fused residual + ReLU, matches float64', async () => {
  const base = await getEngine();
  if (!base) return;
  for (const variant of Object.keys(TUNING_VARIANTS)) {
    for (const tile of candidateTiles(TUNING_VARIANTS[variant])) {
      const engine = await Engine.create({ tuning: withConvTile(TUNING_VARIANTS[variant], tile) });
      await engine.precompile(convKernels(engine.tuning));
      for (const { k, stride, padding, shapes } of KERNELS) {
        for (const s of shapes) {
          const name = `${engine.tuning.name} k${k} s${stride} [${s.n},${s.cin},${s.h},${s.w}]→${s.cout}`;
          const random = caseRandom(seed, name);
          const x = randomNd(random, [s.n, s.cin, s.h, s.w]);
          const w = randomNd(random, [s.cout, s.cin, k, k]);
          const wt = randomNd(random, [s.cin, s.cout, k, k]);
          const b = randomNd(random, [s.cout]);
          const opts = { stride, padding };
          const plain = ref.conv2d(x, w, b, opts);
          const r = randomNd(random, plain.shape);
          const transposed = ref.convTranspose2d(x, wt, b, opts);
          const [xt, wtt, wtT, bt, rt] = [x, w, wt, b, r].map((v) => upload(engine, v));
          const absTerms = ref.conv2d(absNd(x), absNd(w), absNd(b), opts);
          const convBound = bound(absTerms, x, w);
          const got: [string, Float32Array, Nd, number[]][] = [
            ['', await conv2d(xt, wtt, bt, opts).read(), plain, convBound],
            [' transposed', await convTranspose2d(xt, wtT, bt, opts).read(), transposed, bound(ref.convTranspose2d(absNd(x), absNd(wt), absNd(b), opts), x, wt)],
          ];
          if (stride === 1) {
            const fused = map(plain, (v, i) => Math.max(0, v + r.data[i]));
            got.push([' + residual, relu', await conv2d(xt, wtt, bt, { ...opts, residual: rt, activation: 'relu' }).read(), fused, bound(absTerms, x, w, r)]);
          } else {
            const v = randomNd(random, [s.n, s.cout]);
            const vt = upload(engine, v);
            got.push([' + sample bias', await conv2d(xt, wtt, bt, { ...opts, sampleBias: vt }).read(), plusSampleBias(plain, v), bound(absTerms, x, w, broadcastSampleBias(absNd(v), plain))]);
            vt.dispose();
          }
          for (const [what, values, expected, limit] of got) {
            const c = compareWithBound(`${name}${what}`, values, expected.data, limit);
            console.log(`    ${describeComparison(c)}`);
            if (!c.pass) assert.unreachable(describeFailure(c, values, expected.data, limit));
          }
          for (const t of [xt, wtt, wtT, bt, rt]) t.dispose();
        }
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
  assert.not.ok(compareWithBound('without residual', got, expected.data, bound(ref.conv2d(absNd(x), absNd(w), absNd(b), { padding: 1 }), x, w, r)).pass);
});

test('a dropped sample bias fails the bound (the check can fail)', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const random = caseRandom(seed, 'dropped sample bias');
  const x = randomNd(random, [2, 3, 6, 6]), w = randomNd(random, [5, 3, 2, 2]), b = randomNd(random, [5]), v = randomNd(random, [2, 5]);
  const opts = { stride: 2 };
  const plain = ref.conv2d(x, w, b, opts);
  const got = await conv2d(upload(engine, x), upload(engine, w), upload(engine, b), opts).read();
  assert.not.ok(compareWithBound('without sample bias', got, plusSampleBias(plain, v).data, bound(ref.conv2d(absNd(x), absNd(w), absNd(b), opts), x, w, broadcastSampleBias(absNd(v), plain))).pass);
});

test('the sample bias gradient is the output gradient summed over each image plane; the input gradient is unchanged', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const random = caseRandom(seed, 'sample bias gradient');
  const x = randomNd(random, [3, 4, 7, 9]), w = randomNd(random, [6, 4, 2, 2]), b = randomNd(random, [6]), v = randomNd(random, [3, 6]);
  const opts = { stride: 2 };
  const g = randomNd(random, ref.conv2d(x, w, b, opts).shape);
  const [xt, wt, bt, vt, gt] = [x, w, b, v, g].map((t) => upload(engine, t));
  const { value, grads } = valueAndGrad(engine, () => conv2d(xt, wt, bt, { ...opts, sampleBias: vt }), [xt, vt], gt);
  const plane = g.shape[2] * g.shape[3];
  const dv = Array.from(v.data, (_, nc) => g.data.slice(nc * plane, (nc + 1) * plane).reduce((a, e) => a + e, 0));
  const dvBound = Array.from(v.data, (_, nc) => (plane + 1) * U * g.data.slice(nc * plane, (nc + 1) * plane).reduce((a, e) => a + Math.abs(e), 0));
  const dx = ref.conv2dBackward(x, w, g, opts).dx;
  // The input gradient sums Cout·KH·KW products per value (the transposed pass's K).
  const dxBound = bound(ref.conv2dBackward(absNd(x), absNd(w), absNd(g), opts).dx, g, w);
  for (const [what, got, want, limit] of [['d/d sampleBias', await grads[1].read(), dv, dvBound], ['d/dx', await grads[0].read(), Array.from(dx.data), dxBound]] as const) {
    const c = compareWithBound(`conv2d stride 2 + sample bias ${what}`, got, want, limit);
    console.log(`    ${describeComparison(c)}`);
    if (!c.pass) assert.unreachable(describeFailure(c, got, want, limit));
  }
  for (const t of [xt, wt, bt, vt, gt, value, ...grads]) t.dispose();
});

test('a residual of the wrong shape is refused with both shapes named', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = upload(engine, randomNd(caseRandom(seed, 'shape'), [1, 2, 4, 4]));
  const w = upload(engine, randomNd(caseRandom(seed, 'w'), [3, 2, 3, 3]));
  const r = upload(engine, randomNd(caseRandom(seed, 'r'), [1, 3, 4, 5]));
  assert.throws(() => conv2d(x, w, undefined, { padding: 1, residual: r }), /residual \[1,3,4,5\] must have the output's shape \[1,3,4,4\]/);
  const v = upload(engine, randomNd(caseRandom(seed, 'v'), [3, 1]));
  assert.throws(() => conv2d(x, w, undefined, { padding: 1, sampleBias: v }), /sampleBias \[3,1\] must be \[1,3\]/);
});

test.run();
