import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad, type Engine, type Tensor } from '../../engine/index.ts';
import { crossEntropy, gatherColumns, klDivLoss, labelTensor, lossKernels, mseLoss, nllOfLogProbs, oneHot, type MseReduction } from '../../engine/ops/losses.ts';
import { map, nd, type Nd } from '../../engine/reference/nd.ts';
import * as ref from '../../engine/reference/losses.ts';
import { assertClose, finiteDiff, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { checkGrads, randomNd, upload } from '../helpers/harness.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

async function engineWithKernels(): Promise<Engine | null> {
  const engine = await getEngine();
  await engine?.precompile(lossKernels());
  return engine;
}

const randomLabels = (n: number, K: number) => Array.from({ length: n }, () => Math.floor(random() * K));
const scalarNd = (v: number) => nd([1], [v]);

/** GPU gradient of a scalar loss at a few indices of input k vs central differences of the float64 loss. */
async function checkFiniteDiff(engine: Engine, name: string, inputs: Nd[], gpu: (ts: Tensor[]) => Tensor, loss: (xs: Nd[]) => number): Promise<void> {
  const ts = inputs.map((x) => upload(engine, x));
  const { grads } = valueAndGrad(engine, () => gpu(ts), ts);
  for (let k = 0; k < inputs.length; k++) {
    const got = await grads[k].read();
    const idx = Array.from({ length: Math.min(8, got.length) }, (_, j) => (j * 7919) % got.length);
    const fd = finiteDiff((v) => loss(inputs.map((x, j) => (j === k ? nd(x.shape, v) : x))), inputs[k].data, idx);
    assertClose(`${name} d/d input ${k} vs finite differences`, idx.map((i) => got[i]), fd, 1e-4, 1e-1);
  }
}

const ROW_SHAPES = [[1, 10], [7, 10], [5, 3], [33, 1000], [300, 10]];

test('cross entropy: value and gradient vs float64, labels as tensor or array', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const [n, K] of ROW_SHAPES) {
    const logits = randomNd(random, [n, K], 3);
    const labels = randomLabels(n, K);
    const expected = ref.crossEntropy(logits, labels);
    const fromArray = await crossEntropy(upload(engine, logits), labels).read();
    const fromTensor = await crossEntropy(upload(engine, logits), labelTensor(engine, labels, K)).read();
    assertClose(`crossEntropy [${n},${K}] labels array`, fromArray, [expected], 1e-5);
    assertClose(`crossEntropy [${n},${K}] labels tensor`, fromTensor, [expected], 1e-5);
    const g = 0.5 + random();
    await checkGrads(engine, `crossEntropy [${n},${K}]`, [logits], ([t]) => crossEntropy(t, labels), scalarNd(g), [ref.crossEntropyBackward(logits, labels, g)], 1e-5);
  }
  const small = randomNd(random, [3, 5], 2);
  const labels = [4, 0, 2];
  await checkFiniteDiff(engine, 'crossEntropy [3,5]', [small], ([t]) => crossEntropy(t, labels), ([x]) => ref.crossEntropy(x, labels));
});

test('confidently classified rows keep their small loss and gradient to f32 precision', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const margin of [12, 16, 20]) {
    const labels = randomLabels(6, 10);
    const logits = map(randomNd(random, [6, 10]), (v, i) => Math.fround(v + (i % 10 === labels[Math.floor(i / 10)] ? margin : 0)));
    const perRow = Array.from({ length: 6 }, (_, r) => nd([1, 10], logits.data.subarray(r * 10, r * 10 + 10)));
    const got = await Promise.all(perRow.map((row, r) => crossEntropy(upload(engine, row), [labels[r]]).item()));
    assertClose(`crossEntropy per row, label margin ${margin}`, got, perRow.map((row, r) => ref.crossEntropy(row, [labels[r]])), 1e-5, 0);
    await checkGrads(engine, `crossEntropy label margin ${margin}`, [logits], ([t]) => crossEntropy(t, labels), scalarNd(1), [ref.crossEntropyBackward(logits, labels)], 1e-5);
  }
});

test('cross entropy stays finite for large logits', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const logits = map(randomNd(random, [4, 10]), (v, i) => v + (i % 10 === 3 ? 900 : -500));
  const labels = [3, 1, 3, 0];
  const { value, grads } = valueAndGrad(engine, () => crossEntropy(upload(engine, logits), labels), []);
  assertClose('crossEntropy with logits ±1000', await value.read(), [ref.crossEntropy(logits, labels)], 1e-5);
  assert.equal(grads.length, 0);
});

test('labels out of range: clear error from arrays, NaN from tensors', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const logits = upload(engine, randomNd(random, [3, 4]));
  assert.throws(() => crossEntropy(logits, [0, 4, 1]), /label 4 at index 1 is not a class index in \[0, 4\)/);
  assert.throws(() => crossEntropy(logits, [0, -1, 1]), /label -1/);
  assert.throws(() => crossEntropy(logits, [0, 1.5, 1]), /label 1.5/);
  assert.throws(() => crossEntropy(logits, [0, 1]), /2 labels for 3 rows/);
  assert.throws(() => oneHot(engine, [2, 10], 10), /label 10/);
  assert.throws(() => gatherColumns(logits, [0, 0, 7]), /label 7/);
  for (const bad of [4, -1, 1.5, NaN]) {
    const labels = upload(engine, nd([3], [0, bad, 1]));
    assert.ok(Number.isNaN(await crossEntropy(logits, labels).item()), `crossEntropy with label ${bad} is NaN`);
    const picked = await gatherColumns(logits, labels).read();
    assert.ok(Number.isNaN(picked[1]) && !Number.isNaN(picked[0]), `gatherColumns marks only row 1 (label ${bad}) NaN`);
  }
});

test('gatherColumns and NLL of log-probabilities: values and gradients', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const [n, K] of ROW_SHAPES) {
    const x = randomNd(random, [n, K]);
    const idx = randomLabels(n, K);
    assertClose(`gatherColumns [${n},${K}]`, await gatherColumns(upload(engine, x), idx).read(), ref.gatherColumns(x, idx).data, 0);
    const g = randomNd(random, [n]);
    await checkGrads(engine, `gatherColumns [${n},${K}]`, [x], ([t]) => gatherColumns(t, labelTensor(engine, idx, K)), g, [ref.gatherColumnsBackward(x.shape, idx, g)], 0);
    const logp = ref.logSoftmax(x);
    const logpF32 = map(logp, Math.fround);
    assertClose(`nllOfLogProbs [${n},${K}]`, await nllOfLogProbs(upload(engine, logpF32), idx).read(), [ref.nllOfLogProbs(logpF32, idx)], 1e-5);
    const gn = 0.5 + random();
    const expected = map(ref.gatherColumnsBackward(x.shape, idx, nd([n], new Array(n).fill(1))), (v) => (-gn * v) / n);
    await checkGrads(engine, `nllOfLogProbs [${n},${K}]`, [logpF32], ([t]) => nllOfLogProbs(t, idx), scalarNd(gn), [expected], 1e-6);
  }
  const small = map(ref.logSoftmax(randomNd(random, [3, 4])), Math.fround);
  await checkFiniteDiff(engine, 'nllOfLogProbs [3,4]', [small], ([t]) => nllOfLogProbs(t, [1, 3, 0]), ([x]) => ref.nllOfLogProbs(x, [1, 3, 0]));
});

test('MSE with mean, sum and per-sample reductions: values and gradients for both inputs', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const reductions: MseReduction[] = ['mean', 'sum', 'per-sample'];
  for (const shape of [[4, 3, 5, 7], [1, 10], [6], [2, 1, 28, 28]]) {
    const a = randomNd(random, shape), b = randomNd(random, shape);
    for (const reduction of reductions) {
      const expected = ref.mseLoss(a, b, reduction);
      const out = mseLoss(upload(engine, a), upload(engine, b), reduction);
      assert.equal([...out.shape], expected.shape);
      assertClose(`mseLoss ${reduction} [${shape}]`, await out.read(), expected.data, 1e-5);
      const g = randomNd(random, expected.shape);
      await checkGrads(engine, `mseLoss ${reduction} [${shape}]`, [a, b], ([x, y]) => mseLoss(x, y, reduction), g, ref.mseLossBackward(a, b, reduction, g), 1e-5);
    }
  }
  const a = randomNd(random, [2, 3]), b = randomNd(random, [2, 3]);
  await checkFiniteDiff(engine, 'mseLoss mean [2,3]', [a, b], ([x, y]) => mseLoss(x, y), ([x, y]) => ref.mseLoss(x, y, 'mean').data[0]);
});

test('KL divergence (batch mean): value and gradients for student and teacher', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const [n, K] of ROW_SHAPES) {
    const student = map(ref.logSoftmax(randomNd(random, [n, K], 2)), Math.fround);
    const teacher = map(ref.logSoftmax(randomNd(random, [n, K], 2)), Math.fround);
    const expected = ref.klDivLoss(student, teacher);
    // The loss is a small difference of larger terms: judge its error against Σ p_t |log p_t − log p_s| / N.
    const magnitude = teacher.data.reduce((s, lt, i) => s + Math.exp(lt) * Math.abs(lt - student.data[i]), 0) / n;
    const got = await klDivLoss(upload(engine, student), upload(engine, teacher)).item();
    assertClose(`klDivLoss [${n},${K}] (error / magnitude)`, [got / magnitude], [expected / magnitude], 1e-5, 1);
    const g = 0.5 + random();
    await checkGrads(engine, `klDivLoss [${n},${K}]`, [student, teacher], ([s, t]) => klDivLoss(s, t), scalarNd(g), ref.klDivLossBackward(student, teacher, g), 1e-5);
  }
  const s = map(ref.logSoftmax(randomNd(random, [2, 5])), Math.fround), t = map(ref.logSoftmax(randomNd(random, [2, 5])), Math.fround);
  await checkFiniteDiff(engine, 'klDivLoss [2,5]', [s, t], ([x, y]) => klDivLoss(x, y), ([x, y]) => ref.klDivLoss(x, y));
  assertClose('klDivLoss of a distribution with itself', [await klDivLoss(upload(engine, s), upload(engine, s)).item()], [0], 0);
});

test('oneHot rows', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const t = oneHot(engine, [2, 0, 1], 3);
  assert.equal([...t.shape], [3, 3]);
  assert.equal([...(await t.read())], [0, 0, 1, 1, 0, 0, 0, 1, 0]);
});

test('losses called outside any scope leave only their result alive; all kernels precompiled', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const logits = upload(engine, randomNd(random, [8, 10]));
  const other = upload(engine, randomNd(random, [8, 10]));
  const labels = randomLabels(8, 10);
  const calls = [
    () => crossEntropy(logits, labels), () => nllOfLogProbs(logits, labels), () => gatherColumns(logits, labels),
    () => mseLoss(logits, other), () => mseLoss(logits, other, 'per-sample'), () => klDivLoss(logits, other),
  ];
  for (const call of calls) call().dispose();
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 50; i++) for (const call of calls) call().dispose();
  await engine.sync();
  const after = engine.stats();
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.lateCompiles, 0, 'lossKernels() lists every kernel');
});

test.run();
