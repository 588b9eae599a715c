// Attack building blocks on a bare (tiny, random-init) classifier: the CPU losses and their logit
// gradients, the classifier gradient, projections, EOT averaging, and that each attack breaks it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apgd } from '../../engine/attacks/apgd.ts';
import { eot, type SampleGradient } from '../../engine/attacks/eot.ts';
import { ATTACKS, ATTACK_NAMES, runAttack } from '../../engine/attacks/index.ts';
import { classifierGradient, logitLoss, type GradientFn } from '../../engine/attacks/objectives.ts';
import { valueAndGrad } from '../../engine/autograd.ts';
import { pgd } from '../../engine/attacks/pgd.ts';
import { pipelineLogits } from '../../engine/purify/defended.ts';
import { project } from '../../engine/attacks/project.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { fromArray, scale, sub } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { assertClose, freshSeed, randn, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { SIZE, checkDirectional, smoothClassifier, tinyClassifier, tinyImages, unitDirection } from './fixtures.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);
const PIXELS = SIZE * SIZE;

test('CE and DLR losses: logit gradients match float64 finite differences', () => {
  const K = 10;
  for (const loss of ['ce', 'dlr'] as const) {
    const n = 4;
    // Rows of well-separated logits in random order, so no ± h step reorders them.
    const logits = Float32Array.from({ length: n * K }, (_, j) => j % K);
    for (let i = 0; i < n; i++) {
      const row = logits.subarray(i * K, (i + 1) * K);
      for (let j = K - 1; j > 0; j--) {
        const k = Math.floor(random() * (j + 1));
        [row[j], row[k]] = [row[k], row[j]];
      }
      row.forEach((v, j) => (row[j] = Math.fround(0.7 * v + 0.1 * (random() - 0.5))));
    }
    const labels = Array.from({ length: n }, () => Math.floor(random() * K));
    labels[0] = argmaxRows(logits, K)[0]; // one image with its label on top (DLR's other branch)
    const { gradLogits } = logitLoss(loss, logits, labels, K);
    const expected = Array.from(logits, (_, j) => {
      const h = 1e-3;
      const at = (d: number) => {
        const z = Float32Array.from(logits);
        z[j] += d;
        return logitLoss(loss, z, labels, K).loss.reduce((a, b) => a + b, 0);
      };
      return (at(h) - at(-h)) / (2 * h);
    });
    assertClose(`${loss} d loss / d logits`, gradLogits, expected, 2e-3);
  }
});

test('classifier gradient: the one-pass CE gradient equals the CPU-seeded one and finite differences; DLR likewise', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const classifier = tinyClassifier(engine, seed);
  const n = 3;
  const images = tinyImages(random, n);
  const labels = Array.from({ length: n }, () => Math.floor(random() * 10));
  const x = fromArray(engine, images, [n, 1, SIZE, SIZE]);
  // The two-pass path: the logits read, the CE logit gradient in float64 on the CPU, a seeded backward.
  const logits = await classifier.logits(x).read();
  const seedTensor = fromArray(engine, logitLoss('ce', logits, labels, 10).gradLogits, [n, 10]);
  const cpuSeeded = await valueAndGrad(engine, () => classifier.logits(x), [x], seedTensor).grads[0].read();
  for (const loss of ['ce', 'dlr'] as const) {
    const r = await classifierGradient(classifier, labels, loss)(x, 0);
    const grad = await r.grad.read();
    assertClose(`${loss}: reported loss is logitLoss of the logits`, r.loss, logitLoss(loss, logits, labels, 10).loss, 1e-5);
    if (loss === 'ce') assertClose('ce: GPU-seeded one pass vs CPU-seeded gradient', grad, cpuSeeded, 1e-4);
    const lossAt = async (v: Float32Array) => (await classifierGradient(classifier, labels, loss)(fromArray(engine, v, x.shape), 0)).loss.reduce((a, b) => a + b, 0);
    // A step small enough per pixel not to cross ReLU and max-pool kinks.
    for (let d = 0; d < 3; d++) await checkDirectional(`classifier ${loss}, direction ${d}`, grad, images, unitDirection(random, images.length), lossAt, 1e-3, 1e-2);
  }
  await classifierGradient(classifier, labels.slice(1))(x, 0).then(
    () => assert.unreachable('labels for another batch size were accepted'),
    (e: Error) => assert.match(e.message, /2 labels for a batch of 3 images/),
  );
});

test('projection keeps ‖δ‖ ≤ ε exactly and stays in the image box', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const n = 5;
  const images = tinyImages(random, n);
  const x = fromArray(engine, images, [n, 1, SIZE, SIZE]);
  for (const [norm, eps] of [['linf', 0.05], ['linf', 0.3], ['l2', 0.2], ['l2', 2]] as const) {
    const far = fromArray(engine, Float32Array.from(randn(random, images.length, 3)).map((v, i) => images[i] + v), x.shape);
    const p = await project(norm, far, x, eps).read();
    const again = await project(norm, fromArray(engine, p, x.shape), x, eps).read();
    for (let i = 0; i < n; i++) {
      const delta = Array.from({ length: PIXELS }, (_, j) => p[i * PIXELS + j] - images[i * PIXELS + j]);
      const size = norm === 'linf' ? Math.max(...delta.map(Math.abs)) : Math.hypot(...delta);
      assert.ok(size <= eps * (1 + 1e-6), `${norm} ε=${eps}: image ${i} has ‖δ‖ = ${size}`);
      assert.ok(Array.from(p.subarray(i * PIXELS, (i + 1) * PIXELS)).every((v) => v >= 0 && v <= 1), 'outside [0, 1]');
    }
    assertClose(`${norm} ε=${eps}: projecting twice changes nothing`, again, p, 1e-6);
    console.log(`    ${norm} ε=${eps}: max ‖δ‖ within ε`);
  }
  // L2 without the box binding: outside points land on the sphere.
  const mid = fromArray(engine, new Float32Array(n * PIXELS).fill(0.5), x.shape);
  const out = await project('l2', fromArray(engine, Float32Array.from(randn(random, n * PIXELS, 0.02)).map((v) => 0.5 + v), x.shape), mid, 0.05).read();
  const norms = Array.from({ length: n }, (_, i) => Math.hypot(...Array.from(out.subarray(i * PIXELS, (i + 1) * PIXELS), (v) => v - 0.5)));
  assertClose('L2 projection lands on the ε-sphere', norms, new Array(n).fill(0.05), 1e-5);
});

test('EOT: K = 1 is the single draw, K = 3 the mean of three draws', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = fromArray(engine, tinyImages(random, 2), [2, 1, SIZE, SIZE]);
  // A stochastic stand-in: the gradient is the draw's repeat number times x.
  const sample: SampleGradient = async (xAdv, draw) => ({ grad: scale(xAdv, draw.repeat), loss: Float64Array.of(draw.repeat, -draw.repeat), logits: new Float32Array(20).fill(draw.repeat) });
  const one = await eot(sample, 1, 5, 0)(x, 4);
  assertClose('K = 1: draw repeat 1 + step', await one.grad.read(), await scale(x, 5).read(), 1e-6);
  const three = await eot(sample, 3, 5, 0)(x, 2);
  // Draws 1 + 2·3 + k, k = 0..2: mean repeat 8.
  assertClose('K = 3: mean gradient', await three.grad.read(), await scale(x, 8).read(), 1e-6);
  assertClose('K = 3: mean loss and logits', [...three.loss, three.logits[0]], [8, -8, 8], 1e-6);
  // PGD through eot(K = 1) takes exactly the steps of PGD on the draw itself.
  const opts = { norm: 'linf' as const, eps: 0.1, steps: 3, randomStart: true, seed: 3 };
  const viaEot = await pgd(x, eot(sample, 1, 5, 0), opts);
  const direct = await pgd(x, (xAdv, step) => sample(xAdv, { seed: 5, repeat: 1 + step, firstIndex: 0 }), opts);
  assertClose('PGD with EOT K = 1 equals plain PGD', await viaEot.read(), await direct.read(), 0);
});

test('APGD halves its step and converges to the maximiser of a concave loss inside the ball', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const n = 3;
  const images = tinyImages(random, n);
  const x = fromArray(engine, images, [n, 1, SIZE, SIZE]);
  const eps = 0.2;
  const target = images.map((v) => v + eps * (random() - 0.5));
  const c = fromArray(engine, target, x.shape);
  // loss = −‖x − c‖² per image; logits that never count as fooled.
  const labels = [0, 0, 0];
  const gradient: GradientFn = async (xAdv) => {
    const d = await xAdv.read();
    const loss = Float64Array.from({ length: n }, (_, i) => -d.subarray(i * PIXELS, (i + 1) * PIXELS).reduce((s, v, j) => s + (v - target[i * PIXELS + j]) ** 2, 0));
    return { grad: engine.keep(scale(sub(c, xAdv), 2)), loss, logits: Float32Array.from({ length: n * 10 }, (_, j) => (j % 10 === 0 ? 1 : 0)) };
  };
  // 200 steps have 8 checkpoints: a step that halves at each ends at 2ε/256.
  const out = await (await apgd(x, labels, gradient, { norm: 'linf', eps, steps: 200, seed: 1 })).read();
  const err = Math.max(...Array.from(out, (v, i) => Math.abs(v - target[i])));
  console.log(`    max |x − c| after 200 APGD steps: ${err.toExponential(2)} (start step 2ε = ${2 * eps})`);
  assert.ok(err < eps / 20, `APGD did not converge: ${err}`);
});

test('every white-box attack breaks an undefended classifier; PGD and APGD reach ~0 %', async () => {
  const engine = await getEngine();
  if (!engine) return;
  // The MLP: some random CNNs have flat regions no 20-step attack crosses reliably.
  const classifier = smoothClassifier(engine, seed + 1);
  const n = 16;
  const x = fromArray(engine, tinyImages(random, n), [n, 1, SIZE, SIZE]);
  const noise = { seed: 0, repeat: 0, firstIndex: 0 };
  // Labels = the clean predictions, so clean accuracy is 100 %.
  const clean = await pipelineLogits({ classifier }, x, noise);
  const labels = argmaxRows(clean, 10);
  const meanLoss = (logits: Float32Array) => logitLoss('ce', logits, labels, 10).loss.reduce((a, b) => a + b, 0) / n;
  for (const norm of ['linf', 'l2'] as const) {
    const eps = norm === 'linf' ? 0.3 : 2;
    // The black-box square attack has its own test (square.test.ts), on its own query budget; the
    // ŷ-hijack needs a guidance network and has its own (hijack.test.ts).
    for (const name of ATTACK_NAMES.filter((a) => ATTACKS[a].estimator !== 'queries' && !ATTACKS[a].needsGuide)) {
      const adv: Tensor = await runAttack(name, { classifier }, x, labels, { norm, eps, steps: 20, eot: 2, seed: 9 }, 0);
      const logits = await pipelineLogits({ classifier }, adv, noise);
      const accuracy = argmaxRows(logits, 10).filter((p, i) => p === labels[i]).length / n;
      console.log(`    ${norm} ε=${eps} ${name.padEnd(9)} accuracy ${(100 * accuracy).toFixed(1)} %, mean CE ${meanLoss(clean).toFixed(3)} → ${meanLoss(logits).toFixed(3)}`);
      assert.ok(meanLoss(logits) > meanLoss(clean), `${name} did not raise the loss`);
      // One FGSM step need not flip a random network's nearly flat predictions; iterative attacks must.
      if (name !== 'fgsm') assert.ok(accuracy <= 0.1, `${name}: accuracy ${accuracy} on an undefended classifier`);
      adv.dispose();
    }
  }
});

test.run();
