import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad, type Engine, type Tensor } from '../../engine/index.ts';
import { mul, sum } from '../../engine/ops/index.ts';
import { scaledDotProductAttention } from '../../engine/ops/attention.ts';
import { logSoftmax, scaledSoftmax, softmax } from '../../engine/ops/softmax.ts';
import * as ref from '../../engine/reference/norm.ts';
import { map, nd, type Nd } from '../../engine/reference/nd.ts';
import { assertClose, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { checkGrads, randomNd, upload } from '../helpers/harness.ts';
import { checkFiniteDiff, timeIt } from './finite-diff-check.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

/** Uniform in [−magnitude, magnitude], rounded to f32. */
const uniformNd = (shape: number[], magnitude: number) => map(nd(shape), () => Math.fround((2 * random() - 1) * magnitude));

const SHAPES = [[1], [7], [3, 5], [2, 3, 17], [4, 300], [2, 2, 3, 1000]];

/**
 * GPU gradient of sum(f(x) ⊙ g) vs the reference, with errors judged against 1% of `termScale`:
 * softmax rows dominated by one entry have gradients that all cancel to ~0, so the largest
 * expected entry is no measure of the size of the terms that cancelled.
 */
async function checkGrad(engine: Engine, name: string, f: (t: Tensor) => Tensor, x: Nd, g: Nd, expected: Nd, termScale: number, tol: number) {
  const [xt, gt] = [x, g].map((v) => upload(engine, v));
  const { value, grads } = valueAndGrad(engine, () => sum(mul(f(xt), gt)), [xt]);
  const largest = expected.data.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-30);
  assertClose(`${name} gradient`, await grads[0].read(), expected.data, tol, (1e-2 * termScale) / largest);
  for (const t of [xt, gt, value, ...grads]) t.dispose();
}

const maxAbs = (x: Nd) => x.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('softmax and log-softmax over the last dim match float64, including inputs of magnitude 80 and 500', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const shape of SHAPES) {
    for (const magnitude of [3, 80, 500]) {
      const name = `[${shape}] |x| ≤ ${magnitude}`;
      const x = uniformNd(shape, magnitude);
      const xt = upload(engine, x);
      const y = ref.softmax(x), logY = ref.logSoftmax(x);
      assertClose(`softmax ${name}`, await softmax(xt).read(), y.data, 1e-5);
      // log-softmax spans ~2·magnitude, so judge it against the largest magnitude it reaches.
      assertClose(`logSoftmax ${name}`, await logSoftmax(xt).read(), logY.data, 1e-5, 1);
      xt.dispose();
      const g = randomNd(random, shape);
      // Largest term of dx = y·(g − Σ g·y) and of dx = g − softmax·Σ g.
      await checkGrad(engine, `softmax ${name}`, softmax, x, g, ref.softmaxBackward(y, g), maxAbs(y) * maxAbs(g), 5e-5);
      await checkGrad(engine, `logSoftmax ${name}`, logSoftmax, x, g, ref.logSoftmaxBackward(logY, g), maxAbs(g), 5e-5);
    }
  }
});

test('softmax of an exactly representable extreme row: no overflow, no NaN', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = nd([2, 4], [1000, -1000, 0, 1000, -3e38, -3e38, -3e38, -3e38]);
  const got = await softmax(upload(engine, x)).read();
  assert.equal([...got], [0.5, 0, 0, 0.5, 0.25, 0.25, 0.25, 0.25]);
  const logGot = await logSoftmax(upload(engine, x)).read();
  assert.equal([...logGot.slice(0, 4)].map((v) => Math.fround(v)), [-Math.LN2, -2000 - Math.LN2, -1000 - Math.LN2, -Math.LN2].map(Math.fround));
});

test('scaled softmax folds the scale into the kernel, gradient included', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const scale of [0.125, -2]) {
    const x = randomNd(random, [3, 9, 33], 4);
    const y = ref.softmax(x, scale);
    assertClose(`scaledSoftmax [3,9,33] scale ${scale}`, await scaledSoftmax(upload(engine, x), scale).read(), y.data, 1e-5);
    const g = randomNd(random, x.shape);
    const termScale = Math.abs(scale) * maxAbs(y) * maxAbs(g);
    await checkGrad(engine, `scaledSoftmax scale ${scale}`, (t) => scaledSoftmax(t, scale), x, g, ref.softmaxBackward(y, g, scale), termScale, 5e-5);
  }
});

test('softmax gradients agree with finite differences of the float64 forward', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = randomNd(random, [3, 6], 2);
  for (const [name, gpu, cpu] of [['softmax', softmax, ref.softmax], ['logSoftmax', logSoftmax, ref.logSoftmax]] as const) {
    await checkFiniteDiff(engine, random, `${name} [3,6]`, [x], ([t]) => gpu(t), ([a]) => cpu(a));
  }
});

const ATTENTION: { q: number[]; kv: number[]; dv?: number }[] = [
  { q: [1, 1, 1], kv: [1, 1, 1] }, { q: [2, 5, 3], kv: [2, 5, 3] }, { q: [3, 17, 8], kv: [3, 17, 8] },
  { q: [2, 7, 4], kv: [2, 11, 4], dv: 6 }, { q: [1, 64, 32], kv: [1, 64, 32] }, { q: [2, 49, 40], kv: [2, 49, 40] },
];

test('scaled dot-product attention forward and gradients w.r.t. q, k, v match float64', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const c of ATTENTION) {
    const q = randomNd(random, c.q), k = randomNd(random, c.kv);
    const v = randomNd(random, [...c.kv.slice(0, 2), c.dv ?? c.kv[2]]);
    for (const scale of [undefined, 0.7]) {
      const s = scale ?? 1 / Math.sqrt(c.q[2]);
      const name = `attention q[${c.q}] k[${c.kv}] v[${v.shape}] scale ${s.toFixed(3)}`;
      const expected = ref.attention(q, k, v, s);
      const got = scaledDotProductAttention(upload(engine, q), upload(engine, k), upload(engine, v), scale);
      assert.equal([...got.shape], expected.shape);
      // Outputs average v over the rows of softmax weights and can cancel to ~0, as in matmul.
      assertClose(name, await got.read(), expected.data, 1e-4);
      const g = randomNd(random, expected.shape);
      const { dq, dk, dv } = ref.attentionBackward(q, k, v, s, g);
      // Gradients cancel twice (in the softmax backward, then in the matmuls), and with scale 0.7 the
      // weights are peaky: f32 rounding of the cancelled terms reaches ~1e-4 of the 1%-of-max floor.
      await checkGrads(engine, name, [q, k, v], ([a, b, d]) => scaledDotProductAttention(a, b, d, scale), g, [dq, dk, dv], 3e-4);
    }
  }
  const q = randomNd(random, [2, 3, 4]), k = randomNd(random, [2, 3, 4]), v = randomNd(random, [2, 3, 4]);
  await checkFiniteDiff(engine, random, 'attention [2,3,4]', [q, k, v], ([a, b, d]) => scaledDotProductAttention(a, b, d), ([a, b, d]) => ref.attention(a, b, d, 0.5));
});

test('attention outside a gradient keeps no intermediates alive', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const q = upload(engine, randomNd(random, [2, 9, 4]));
  const before = engine.liveTensors.size;
  const out = scaledDotProductAttention(q, q, q);
  assert.is(engine.liveTensors.size, before + 1);
  assert.throws(() => scaledDotProductAttention(q, upload(engine, randomNd(random, [2, 9, 5])), q), /do not fit/);
  out.dispose();
  q.dispose();
});

test('every kernel these ops launched was precompiled by normKernels() / softmaxKernels()', async () => {
  const engine = await getEngine();
  if (!engine) return;
  assert.is(engine.stats().lateCompiles, 0);
});

test('timing: attention B=8, L=256 (16×16), D=64, forward and backward', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const [q, k, v, gradOut] = [0, 1, 2, 3].map(() => upload(engine, randomNd(random, [8, 256, 64])));
  const scores = upload(engine, randomNd(random, [8, 256, 256]));
  await timeIt(engine, 'attention forward [8,256,64]', 5, () => engine.scope(() => void scaledDotProductAttention(q, k, v)));
  await timeIt(engine, 'softmax alone [8,256,256]', 5, () => engine.scope(() => void softmax(scores)));
  await timeIt(engine, 'attention forward+backward (q, k, v)', 3, () => {
    const { value, grads } = valueAndGrad(engine, () => scaledDotProductAttention(q, k, v), [q, k, v], gradOut);
    for (const t of [value, ...grads]) t.dispose();
  });
  for (const t of [q, k, v, gradOut, scores]) t.dispose();
});

test.run();
