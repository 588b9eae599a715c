import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ops, valueAndGrad } from '../../engine/index.ts';
import * as ref from '../../engine/reference/elementwise.ts';
import { map, nd } from '../../engine/reference/nd.ts';
import { assertClose, compare, finiteDiff, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { checkGrads, download, randomNd, upload } from '../helpers/harness.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

const SHAPES = [[1], [7], [3, 5], [2, 3, 17], [2, 3, 13, 11], [1000, 257]];
const UNARY: [keyof typeof ref.unary, (t: any) => any, number][] = [
  ['relu', ops.relu, 1], ['silu', ops.silu, 1], ['sign', ops.sign, 1], ['square', ops.square, 1],
  ['exp', ops.exp, 1], ['abs', ops.abs, 1],
];

test('unary forward and backward match float64 on odd sizes', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const shape of SHAPES) {
    for (const [name, fn] of UNARY) {
      const x = randomNd(random, shape);
      const g = randomNd(random, shape);
      const f = ref.unary[name];
      const xt = upload(engine, x);
      assertClose(`${name} [${shape}]`, await fn(xt).read(), map(x, f.f).data, 1e-5);
      await checkGrads(engine, `${name} [${shape}]`, [x], ([t]) => fn(t), g, [map(x, (v, i) => g.data[i] * f.df(v))], 1e-5);
    }
    const pos = map(randomNd(random, shape), (v) => Math.abs(v) + 0.1);
    assertClose(`log [${shape}]`, await ops.log(upload(engine, pos)).read(), map(pos, Math.log).data, 1e-5);
    assertClose(`sqrt [${shape}]`, await ops.sqrt(upload(engine, pos)).read(), map(pos, Math.sqrt).data, 1e-5);
    const gs = randomNd(random, shape);
    await checkGrads(engine, `sqrt [${shape}]`, [pos], ([t]) => ops.sqrt(t), gs, [map(pos, (v, i) => gs.data[i] * 0.5 / Math.sqrt(v))], 1e-5);
    const x = randomNd(random, shape);
    assertClose(`clamp [${shape}]`, await ops.clamp(upload(engine, x), -0.5, 0.75).read(), ref.clamp(x, -0.5, 0.75).data, 0);
    assertClose(`affine [${shape}]`, await ops.affine(upload(engine, x), 2.5, -1).read(), map(x, (v) => 2.5 * v - 1).data, 1e-6);
  }
});

const BROADCAST: [number[], number[]][] = [
  [[5], [5]], [[3, 7], [7]], [[2, 3, 5], [3, 1]], [[4, 1, 6], [1, 5, 1]], [[2, 3, 9, 11], [1, 3, 1, 1]], [[1], [2, 3, 4]],
];

test('binary broadcast ops and their reduced gradients', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const fns = { add: [ops.add, (x: number, y: number) => x + y], sub: [ops.sub, (x: number, y: number) => x - y], mul: [ops.mul, (x: number, y: number) => x * y], div: [ops.div, (x: number, y: number) => x / y] } as const;
  const noGrad = { minimum: [ops.minimum, Math.min], maximum: [ops.maximum, Math.max] } as const;
  for (const [sa, sb] of BROADCAST) {
    const a = randomNd(random, sa);
    const b = map(randomNd(random, sb), (v) => Math.fround((Math.abs(v) + 0.5) * Math.sign(v || 1)));
    for (const [name, [gpu, f]] of Object.entries(fns)) {
      const expected = ref.binary(a, b, f);
      assertClose(`${name} [${sa}]∘[${sb}]`, await gpu(upload(engine, a), upload(engine, b)).read(), expected.data, 1e-5);
      const g = randomNd(random, expected.shape);
      const dfa = { add: () => 1, sub: () => 1, mul: (_x: number, y: number) => y, div: (_x: number, y: number) => 1 / y }[name]!;
      const dfb = { add: () => 1, sub: () => -1, mul: (x: number) => x, div: (x: number, y: number) => -x / (y * y) }[name]!;
      const ga = ref.sumTo(ref.binary(ref.binary(a, b, dfa), g, (d, gg) => d * gg), sa);
      const gb = ref.sumTo(ref.binary(ref.binary(a, b, dfb), g, (d, gg) => d * gg), sb);
      await checkGrads(engine, `${name} [${sa}]∘[${sb}]`, [a, b], ([x, y]) => (gpu as any)(x, y), g, [ga, gb], 1e-5);
    }
    for (const [name, [gpu, f]] of Object.entries(noGrad)) {
      assertClose(`${name} [${sa}]∘[${sb}]`, await gpu(upload(engine, a), upload(engine, b)).read(), ref.binary(a, b, f).data, 0);
    }
  }
});

test('sum and mean over axes, forward and backward', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const cases: [number[], number[]][] = [[[7], [0]], [[3, 5], [1]], [[3, 5], [0]], [[2, 3, 5, 7], [0, 2, 3]], [[4, 3, 2], [0, 1, 2]], [[300, 301], [0, 1]]];
  for (const [shape, axes] of cases) {
    const x = randomNd(random, shape);
    const expected = ref.sum(x, axes, false);
    // Long sums cancel: judge them relative to the sum of magnitudes, as f32 accumulation must be.
    const magnitude = ref.sum(map(x, Math.abs), axes, false);
    const got = await ops.sum(upload(engine, x), axes).read();
    const sumErr = compare(got.map((v, i) => v / magnitude.data[i]), expected.data.map((v, i) => v / magnitude.data[i]));
    console.log(`    sum [${shape}] axes ${axes}: max |error| / Σ|x| ${sumErr.maxAbs.toExponential(2)}`);
    assert.ok(sumErr.maxAbs < 1e-6, `sum error ${sumErr.maxAbs} relative to Σ|x|`);
    const count = axes.reduce((n, a) => n * shape[a], 1);
    const gotMean = await ops.mean(upload(engine, x), axes).read();
    const meanErr = compare(gotMean.map((v, i) => (v * count) / magnitude.data[i]), expected.data.map((v, i) => v / magnitude.data[i]));
    assert.ok(meanErr.maxAbs < 1e-6, `mean error ${meanErr.maxAbs} relative to mean|x|`);
    const g = randomNd(random, expected.shape);
    const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const gx = ref.binary(nd(kept, g.data), nd(shape), (gg) => gg);
    await checkGrads(engine, `sum [${shape}] axes ${axes}`, [x], ([t]) => ops.sum(t, axes), g, [gx], 1e-6);
  }
});

test('matmul: batched, transposed, broadcast, bias + activation; gradients', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const cases = [
    { a: [1, 1], b: [1, 1] }, { a: [5, 3], b: [3, 7] }, { a: [33, 65], b: [65, 17] }, { a: [3, 9, 13], b: [3, 13, 5] },
    { a: [4, 6, 10], b: [10, 3] }, { a: [6, 10], b: [2, 10, 7] }, { a: [70, 5], b: [5, 130], transA: false },
  ];
  for (const c of cases) for (const transA of [false, true]) for (const transB of [false, true]) {
    const a0 = randomNd(random, c.a), b0 = randomNd(random, c.b);
    // Store transposed copies so op(A) has the case's shape.
    const tr = (x: typeof a0) => {
      const s = x.shape, r = s[s.length - 2], q = s[s.length - 1], B = s.length === 3 ? s[0] : 1;
      const out = nd(s.length === 3 ? [B, q, r] : [q, r]);
      for (let t = 0; t < B; t++) for (let i = 0; i < r; i++) for (let j = 0; j < q; j++) out.data[t * r * q + j * r + i] = x.data[t * r * q + i * q + j];
      return out;
    };
    const a = transA ? tr(a0) : a0, b = transB ? tr(b0) : b0;
    const expected = ref.matmul(a0, b0);
    const name = `matmul [${c.a}]${transA ? 'ᵀ' : ''}·[${c.b}]${transB ? 'ᵀ' : ''}`;
    const out = ops.matmul(upload(engine, a), upload(engine, b), { transA, transB });
    assert.equal([...out.shape], expected.shape);
    assertClose(name, await out.read(), expected.data, 1e-4);
    const g = randomNd(random, expected.shape);
    const ga = ref.sumTo(ref.matmul(g, b, false, !transB), a.shape);
    const gb = ref.sumTo(ref.matmul(a, g, !transA, false), b.shape);
    // For transposed operands the reference gradient is w.r.t. the stored (transposed) array.
    const gaStored = transA ? ref.sumTo(ref.matmul(b, g, transB, true), a.shape) : ga;
    const gbStored = transB ? ref.sumTo(ref.matmul(g, a, true, transA), b.shape) : gb;
    await checkGrads(engine, name, [a, b], ([x, y]) => ops.matmul(x, y, { transA, transB }), g, [gaStored, gbStored], 1e-4);
  }
  // Fused bias + activation epilogue against the unfused reference, and its gradient by finite differences.
  const x = randomNd(random, [9, 21]), w = randomNd(random, [11, 21]), bias = randomNd(random, [11]);
  for (const act of ['none', 'relu', 'silu'] as const) {
    const lin = ref.binary(ref.matmul(x, w, false, true), bias, (p, q) => p + q);
    const f = act === 'relu' ? ref.unary.relu.f : act === 'silu' ? ref.unary.silu.f : (v: number) => v;
    assertClose(`linear+${act}`, await ops.linear(upload(engine, x), upload(engine, w), upload(engine, bias), act).read(), map(lin, f).data, 1e-4);
    const g = randomNd(random, lin.shape);
    const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array) =>
      map(ref.binary(ref.matmul(nd(x.shape, xx), nd(w.shape, ww), false, true), nd([11], bb), (p, q) => p + q), f).data.reduce((s, v, i) => s + v * g.data[i], 0);
    const idx = [0, 5, 17, 100, 188];
    const fdx = finiteDiff((xx) => loss(xx, w.data, bias.data), x.data, idx);
    const fdb = finiteDiff((bb) => loss(x.data, w.data, bb), bias.data, [0, 3, 10]);
    const [xt, wt, bt, gt] = [x, w, bias, g].map((v) => upload(engine, v));
    const { grads } = valueAndGrad(engine, () => ops.sum(ops.mul(ops.linear(xt, wt, bt, act), gt)), [xt, bt]);
    const gx = await grads[0].read(), gbias = await grads[1].read();
    assertClose(`linear+${act} dx vs finite differences`, idx.map((i) => gx[i]), fdx, 1e-3, 1e-1);
    assertClose(`linear+${act} dbias vs finite differences`, [0, 3, 10].map((i) => gbias[i]), fdb, 1e-3, 1e-1);
  }
});

test('thousands of op calls return the pool to its starting live bytes', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [4, 33]));
  const w = upload(engine, randomNd(random, [8, 33]));
  const step = () => {
    const { value, grads } = valueAndGrad(engine, () => ops.mean(ops.silu(ops.linear(x, w))), [x, w]);
    value.dispose();
    grads.forEach((g) => g.dispose());
    engine.scope(() => {
      ops.relu(ops.add(x, ops.scale(x, 2)));
    });
  };
  for (let i = 0; i < 100; i++) step(); // warm the pool
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 1000; i++) {
    step();
  }
  await engine.sync();
  const after = engine.stats();
  console.log(`    live bytes ${before.liveBytes} → ${after.liveBytes}, live tensors ${before.liveTensors} → ${after.liveTensors}, peak ${after.peakBytes}, allocations ${after.allocations}, dispatches ${after.dispatches - before.dispatches}`);
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(after.allocations, before.allocations, 'a warm pool allocates nothing new');
  assert.is(after.lateCompiles, 0, 'every kernel was precompiled');
});

test.run();
