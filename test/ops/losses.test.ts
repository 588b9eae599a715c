import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad } from '../../engine/index.ts';
import { crossEntropy, gatherColumns, klDivLoss, labelTensor, mseLoss, nllOfLogProbs, oneHot } from '../../engine/ops/losses.ts';
import { map, nd } from '../../engine/reference/nd.ts';
import * as ref from '../../engine/reference/losses.ts';
import { U, compareWithBound, describeComparison } from '../helpers/error-bound.ts';
import { rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';
import { opTable } from '../helpers/op-harness.ts';
import { testSeed } from '../helpers/seed.ts';
import { SAFETY } from './cases/bounds.ts';
import { LOSS_CASES } from './cases/losses.ts';

const seed = testSeed();
opTable(LOSS_CASES, seed);

const random = rng(seed);
const randomLabels = (n: number, K: number) => Array.from({ length: n }, () => Math.floor(random() * K));

test('confidently classified rows keep their small loss and gradient to f32 relative precision', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const margin of [12, 16, 20]) {
    const labels = randomLabels(6, 10);
    const logits = map(randomNd(random, [6, 10]), (v, i) => Math.fround(v + (i % 10 === labels[Math.floor(i / 10)] ? margin : 0)));
    const rows = Array.from({ length: 6 }, (_, r) => nd([1, 10], logits.data.subarray(r * 10, r * 10 + 10)));
    const got = await Promise.all(rows.map((row, r) => crossEntropy(upload(engine, row), [labels[r]]).item()));
    const expected = rows.map((row, r) => ref.crossEntropy(row, [labels[r]]));
    // The loss log1p(Σ_{j≠label} e^{x_j − x_label}) is a sum of 9 positive exp terms (each 3 + 2|x| ULP,
    // |x_j − x_label| ≤ margin + 8) and a log1p: relative, (9 + 2·(margin + 8) + 8)·2U. Forming
    // lse − x_label instead would err by ~U·|x_label| ≈ 1e-6, 10-1000× the loss, and fail.
    const relative = SAFETY * (9 + 2 * (margin + 8) + 8) * 2 * U;
    const loss = compareWithBound(`crossEntropy per row, margin ${margin}`, got, expected, expected.map((v) => relative * v));
    // The gradient (p − onehot)/N: at the label column −Σ_{j≠label} p_j/N, kept relative the same way.
    const gradRef = ref.crossEntropyBackward(logits, labels);
    const t = upload(engine, logits);
    const { value, grads } = valueAndGrad(engine, () => crossEntropy(t, labels), [t]);
    const grad = compareWithBound(`crossEntropy gradient, margin ${margin}`, await grads[0].read(), gradRef.data, gradRef.data.map((v) => relative * Math.abs(v)));
    for (const x of [t, value, ...grads]) x.dispose();
    console.log(`    ${describeComparison(loss)};  ${describeComparison(grad)}`);
    assert.ok(loss.pass && grad.pass, `margin ${margin}: loss worst ${loss.worstRatio}, gradient worst ${grad.worstRatio} of the bound`);
  }
});

test('cross entropy stays finite for large logits', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const logits = map(randomNd(random, [4, 10]), (v, i) => Math.fround(v + (i % 10 === 3 ? 900 : -500)));
  const labels = [3, 1, 3, 0];
  const { value, grads } = valueAndGrad(engine, () => crossEntropy(upload(engine, logits), labels), []);
  const expected = ref.crossEntropy(logits, labels);
  // Rows 1 and 3 lose ~1400 nats: the lse − x_label difference of values ~1000 rounds by ~U·1400 each.
  const c = compareWithBound('crossEntropy with logits ±1000', await value.read(), [expected], [SAFETY * 8 * U * 1400]);
  console.log(`    ${describeComparison(c)}`);
  assert.ok(c.pass, `error ${c.maxAbs}`);
  assert.equal(grads.length, 0);
});

test('labels out of range: clear error from arrays, NaN from tensors', async () => {
  const engine = await getEngine();
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

test('oneHot rows; KL of a distribution with itself is exactly 0', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const t = oneHot(engine, [2, 0, 1], 3);
  assert.equal([...t.shape], [3, 3]);
  assert.equal([...(await t.read())], [0, 0, 1, 1, 0, 0, 0, 1, 0]);
  const s = upload(engine, map(ref.logSoftmax(randomNd(random, [2, 5])), Math.fround));
  assert.is(await klDivLoss(s, s).item(), 0);
});

test('losses called outside any scope leave only their result alive', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const logits = upload(engine, randomNd(random, [8, 10]));
  const other = upload(engine, randomNd(random, [8, 10]));
  const labels = randomLabels(8, 10);
  const calls = [
    () => crossEntropy(logits, labels), () => nllOfLogProbs(logits, labels), () => gatherColumns(logits, labels),
    () => mseLoss(logits, other), () => mseLoss(logits, other, 'per-sample'), () => klDivLoss(logits, other),
    () => crossEntropy(logits, labelTensor(engine, labels, 10)),
  ];
  for (const call of calls) call().dispose();
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 50; i++) for (const call of calls.slice(0, -1)) call().dispose();
  await engine.sync();
  const after = engine.stats();
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(after.liveBytes, before.liveBytes);
});

test.run();
