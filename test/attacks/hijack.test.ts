// The ŷ-hijack (engine/attacks/hijack.ts) on a tiny AGDM pipeline with a smooth classifier and c_φ:
// its gradient matches central differences of the joint objective, untargeted and targeted; the
// chain's gradient alone (the guidance term dropped) fails that same check; targets are c_φ's
// runner-up classes, never the label; and a pipeline without c_φ is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hijackSample, runnerUpTargets } from '../../engine/attacks/hijack.ts';
import { runAttack } from '../../engine/attacks/index.ts';
import { logitLoss } from '../../engine/attacks/objectives.ts';
import { pipelineLogits, type DefendedPipeline, type NoiseDraw } from '../../engine/purify/defended.ts';
import { pipelineTarget } from '../../engine/attacks/target.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import type { Classifier } from '../../engine/models/types.ts';
import { fromArray } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { SIZE, checkDirectional, smoothClassifier, smoothGuide, tinyDenoiser, tinyImages, unitDirection } from './fixtures.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);
const N = 3;

async function fixture() {
  const engine = (await getEngine())!;
  // classWeight 0: ŷ = argmax c_φ(x′) jumps where c_φ's top class changes; the latent term alone keeps the chain smooth.
  const p: DefendedPipeline = {
    classifier: smoothClassifier(engine, seed),
    defense: { denoiser: tinyDenoiser(engine, seed + 1), guide: smoothGuide(engine, seed + 2), options: { method: 'agdm', tStar: 4, scale: 5, agdm: { classWeight: 0 } } },
  };
  return { engine, p, guide: p.defense.guide! };
}

const sumOf = (v: Float64Array) => v.reduce((s, x) => s + x, 0);

/**
 * Labels that keep c_φ's cross-entropy gradient, J^T(softmax − onehot), well away from zero in
 * both goals: image 0 is labelled with c_φ's top class, so the targeted term pulls toward a real
 * runner-up; image 1 with c_φ's least likely class, so the untargeted term is unsaturated; the rest
 * at random. Random labels alone let a confident c_φ make the targeted term (toward its own top
 * class) vanish, and the check of the check then has nothing to detect.
 */
async function unsaturatedLabels(guide: Classifier, x: Tensor): Promise<number[]> {
  const logits = await x.engine.scopeAsync(() => guide.logits(x).read());
  const k = guide.classes;
  const top = argmaxRows(logits, k);
  const bottom = argmaxRows(logits.map((v) => -v), k);
  return Array.from({ length: x.shape[0] }, (_, i) => (i === 0 ? top[i] : i === 1 ? bottom[i] : Math.floor(random() * k)));
}

test('hijack gradient matches central differences of CE(f∘P) ± CE(c_φ), untargeted and targeted; the chain term alone fails', async () => {
  if (!(await getEngine())) return;
  const { engine, p, guide } = await fixture();
  const images = tinyImages(random, N);
  const x = fromArray(engine, images, [N, 1, SIZE, SIZE]);
  const labels = await unsaturatedLabels(guide, x);
  const draw: NoiseDraw = { seed: 9, repeat: 1, firstIndex: 0 };
  const targets = await runnerUpTargets(guide, x, labels);
  const target = pipelineTarget(p);
  for (const goal of [{ targets: null }, { targets }]) {
    const classes = goal.targets ?? labels;
    const sign = goal.targets ? -1 : 1;
    const objective = async (xv: Float32Array) => {
      const u = fromArray(engine, xv, [N, 1, SIZE, SIZE]);
      const fLogits = await pipelineLogits(p, u, draw);
      const cLogits = await engine.scopeAsync(() => guide.logits(u).read());
      u.dispose();
      return sign * (sumOf(logitLoss('ce', fLogits, classes, 10).loss) + sumOf(logitLoss('ce', cLogits, classes, 10).loss));
    };
    const chain = target.sample('full', classes, 'ce');
    const r = await hijackSample(chain, guide, labels, goal)(x, draw);
    const grad = await r.grad.read();
    r.grad.dispose();
    const name = goal.targets ? 'targeted hijack' : 'untargeted hijack';
    assert.ok(Math.abs(sumOf(r.loss) - (await objective(images))) < 1e-3 * Math.max(1, Math.abs(sumOf(r.loss))), `${name}: reported loss is the objective`);
    for (let d = 0; d < 2; d++) await checkDirectional(`${name}, direction ${d}`, grad, images, unitDirection(random, images.length), objective, 1e-3, 2e-3);
    // Broken on purpose: the chain's gradient without c_φ's term must fail along the guidance term's direction.
    const head = await chain(x, draw);
    const headGrad = await head.grad.read();
    head.grad.dispose();
    const missing = Float32Array.from(grad, (g, i) => g - sign * headGrad[i]);
    const norm = Math.hypot(...missing);
    let failed = false;
    try {
      await checkDirectional(`${name}, chain term alone`, Float32Array.from(headGrad, (g) => sign * g), images, missing.map((m) => m / norm), objective, 1e-3, 2e-3);
    } catch {
      failed = true;
    }
    assert.ok(failed, `${name}: the gradient without the c_φ term passed the check`);
  }
  x.dispose();
});

test('targets are c_φ runner-ups, never the label; without c_φ the hijack is refused', async () => {
  if (!(await getEngine())) return;
  const { engine, p, guide } = await fixture();
  const n = 16;
  const x = fromArray(engine, tinyImages(random, n), [n, 1, SIZE, SIZE]);
  const labels = Array.from({ length: n }, () => Math.floor(random() * 10));
  const logits = await engine.scopeAsync(() => guide.logits(x).read());
  const targets = await runnerUpTargets(guide, x, labels);
  targets.forEach((t, i) => {
    const row = Array.from(logits.slice(i * 10, (i + 1) * 10));
    assert.ok(t !== labels[i], `image ${i}: target is the label`);
    assert.equal(row[t], Math.max(...row.filter((_, j) => j !== labels[i])), `image ${i}: target is not the best other class`);
  });
  const bare = { ...p, defense: { ...p.defense, guide: undefined } };
  const settings = { norm: 'linf' as const, eps: 0.1, steps: 1, eot: 1, seed: 0 };
  for (const name of ['apgd-hijack', 'apgd-hijack-t'] as const) {
    await runAttack(name, bare, x, labels, settings, 0).then(
      () => assert.unreachable(`${name} ran without c_φ`),
      (e: Error) => assert.match(e.message, /guidance network/),
    );
  }
  // With c_φ it runs and stays in the ε-ball.
  const adv = await runAttack('apgd-hijack-t', p, x, labels, { ...settings, steps: 2 }, 0);
  const [a, b] = [await adv.read(), await x.read()];
  assert.ok(a.every((v, i) => Math.abs(v - b[i]) <= 0.1 + 1e-6 && v >= 0 && v <= 1), 'adversarial images leave the ε-ball or [0, 1]');
  adv.dispose();
  x.dispose();
});

test.run();
