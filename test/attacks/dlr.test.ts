// APGD-DLR's loss (Croce & Hein 2020): the per-image DLR values against a float64 transcription of
// AutoAttack's formula, its invariances, and its gradient through a classifier against central
// finite differences of the classifier's DLR loss.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifierGradient, logitLoss } from '../../engine/attacks/objectives.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { assertClose, freshSeed, randn, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { SIZE, checkDirectional, smoothClassifier, tinyImages, unitDirection } from './fixtures.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);
const K = 10;

/** AutoAttack's dlr_loss in float64: −(z_y − z_{π2 if y = π1 else π1}) / (z_π1 − z_π3 + 1e-12), π sorting z ascending from the end. */
function dlrReference(z: ArrayLike<number>, y: number): number {
  const sorted = Array.from(z).sort((a, b) => a - b);
  const top = sorted[sorted.length - 1];
  const labelOnTop = Array.from(z).indexOf(top) === y;
  const other = labelOnTop ? sorted[sorted.length - 2] : top;
  return -(z[y] - other) / (top - sorted[sorted.length - 3] + 1e-12);
}

test('DLR loss: equals the float64 reference, is shift and scale invariant, and is negative exactly when correct', () => {
  const n = 64;
  const logits = Float32Array.from(randn(random, n * K, 3));
  const labels = Array.from({ length: n }, () => Math.floor(random() * K));
  // Half the rows with the label on top (the correctly classified branch).
  for (let i = 0; i < n; i += 2) {
    const row = logits.subarray(i * K, (i + 1) * K);
    row[labels[i]] = Math.max(...row) + Math.fround(0.1 + random());
  }
  const { loss } = logitLoss('dlr', logits, labels, K);
  const expected = labels.map((y, i) => dlrReference(logits.subarray(i * K, (i + 1) * K), y));
  assertClose('DLR vs float64 reference', loss, expected, 1e-12);
  const moved = logitLoss('dlr', logits.map((v) => 2.5 * v - 7), labels, K).loss;
  assertClose('DLR of 2.5·z − 7', moved, expected, 1e-5);
  const predicted = argmaxRows(logits, K);
  for (let i = 0; i < n; i++) assert.is(loss[i] < 0, predicted[i] === labels[i], `row ${i}: DLR ${loss[i]} has the wrong sign`);
});

test('DLR gradient through a classifier matches central finite differences', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const classifier = smoothClassifier(engine, seed);
  const n = 3;
  const images = tinyImages(random, n);
  const labels = Array.from({ length: n }, () => Math.floor(random() * K));
  const x = fromArray(engine, images, [n, 1, SIZE, SIZE]);
  const dlr = classifierGradient(classifier, labels, 'dlr');
  const r = await dlr(x, 0);
  const grad = await r.grad.read();
  const lossAt = async (v: Float32Array) => (await dlr(fromArray(engine, v, x.shape), 0)).loss.reduce((a, b) => a + b, 0);
  for (let d = 0; d < 3; d++) await checkDirectional(`DLR, direction ${d}`, grad, images, unitDirection(random, images.length), lossAt, 1e-3, 1e-2);
});

test.run();
