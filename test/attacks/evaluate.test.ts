// The evaluation driver on a tiny purifier + classifier: per-image results do
// not depend on the batch split, the worst case is the per-image AND over clean and every attack.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Pipeline } from '../../engine/purify/defended.ts';
import { evaluate, type AttackConfig } from '../../engine/eval/evaluate.ts';
import { freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { smoothClassifier, tinyDenoiser, tinyImages } from './fixtures.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { evaluationDraw, pipelineLogits, purifyAndClassify } from '../../engine/purify/defended.ts';
import { fromArray } from '../../engine/ops/index.ts';
import type { Engine } from '../../engine/runtime.ts';
import type { Tensor } from '../../engine/tensor.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

test('evaluate: batch-independent per-image results, worst case, summaries, examples', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const classifier = smoothClassifier(engine, seed);
  const p: Pipeline = { classifier, defense: { denoiser: tinyDenoiser(engine, seed + 1), options: { method: 'gdmp', tStar: 4, steps: 2, scale: 1 } } };
  const n = 6;
  const images = tinyImages(random, n);
  // Labels = the clean predictions of the bare classifier, so clean accuracy is high but attackable.
  const labels = argmaxRows(await pipelineLogits({ classifier }, fromArray(engine, images, [n, 1, 8, 8]), { seed: 0, repeat: 0, firstIndex: 0 }), 10);
  const settings = { norm: 'linf' as const, eps: 0.05, steps: 3, eot: 2 };
  const attacks: AttackConfig[] = [{ name: 'pgd-eot', settings }, { name: 'bpda-eot', settings }, { name: 'apgd-dlr', settings }, { name: 'fgsm', settings }];
  const data = { images, labels, n };
  const live = engine.stats().liveTensors;
  const whole = await evaluate(engine, p, data, { attacks, seeds: [1, 2], batch: n, examples: 3 });
  assert.is(engine.stats().liveTensors, live, 'an evaluation leaks tensors');
  const split = await evaluate(engine, p, data, { attacks, seeds: [1, 2], batch: 4 });
  assert.equal(split.flags, whole.flags, 'per-image results depend on the batch split');
  for (const s of [0, 1]) {
    // AutoAttack's convention: the worst case counts an image only if it is also clean correct.
    const worst = Array.from({ length: n }, (_, i) => whole.flags.clean[s][i] && attacks.every((a) => whole.flags.attacks[a.name][s][i]));
    assert.is(whole.worstCase.perSeed[s], worst.filter(Boolean).length / n);
  }
  for (const a of whole.attacks) {
    console.log(`    ${a.attack.padEnd(9)} robust ${a.robust.perSeed.map((v) => (100 * v).toFixed(0)).join(' / ')} %, ${a.estimator}, EOT ${a.eot}`);
    assert.ok(a.robust.mean <= whole.clean.mean + 1e-9 || a.robust.mean <= 1);
  }
  assert.is(whole.attacks[1].estimator, 'bpda');
  assert.is(whole.examples!.n, 3);
  assert.is(whole.examples!.attacks['pgd-eot'].purified!.length, 3 * 64);
  const mean = (whole.clean.perSeed[0] + whole.clean.perSeed[1]) / 2;
  assert.ok(Math.abs(whole.clean.mean - mean) < 1e-12);
});

/**
 * A smooth classifier that names at least two classes on `x`: some random initialisations name
 * one class for every image of this range, and then no noise draw can change a label.
 */
async function varyingClassifier(engine: Engine, x: Tensor) {
  for (let k = 0; k < 20; k++) {
    const classifier = smoothClassifier(engine, seed + 1000 * k);
    if (new Set(argmaxRows(await pipelineLogits({ classifier }, x, { seed: 0, repeat: 0, firstIndex: 0 }), 10)).size > 1) return classifier;
  }
  throw new Error('no classifier seed names two classes on these images');
}

test('scoring draws: one row per (seed, draw), draw 0 is the one-draw run, draw d is the defence under noise draw d', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const n = 12;
  const images = tinyImages(random, n);
  const x = fromArray(engine, images, [n, 1, 8, 8]);
  const classifier = await varyingClassifier(engine, x);
  const p: Pipeline = { classifier, defense: { denoiser: tinyDenoiser(engine, seed + 1), options: { method: 'diffpure', tStar: 6 } } };
  const predicted = async (s: number, d: number) => (await purifyAndClassify(p, x, evaluationDraw(s, 0, d))).predictions;
  // Labels = the defence's labels under draw 1, so a row scored under another draw shows where that draw's labels differ.
  const labels = await predicted(3, 1);
  const draws = [await predicted(3, 0), labels, await predicted(3, 2)];
  assert.ok(draws[0].some((q, i) => q !== draws[1][i]) || draws[2].some((q, i) => q !== draws[1][i]), 'the draws must differ somewhere, or this test could not tell them apart');
  x.dispose();
  const attacks: AttackConfig[] = [{ name: 'fgsm', settings: { norm: 'linf', eps: 0.05, steps: 1, eot: 1 } }];
  const data = { images, labels, n };
  const one = await evaluate(engine, p, data, { attacks, seeds: [3, 4], batch: 5 });
  const three = await evaluate(engine, p, data, { attacks, seeds: [3, 4], scoreDraws: 3, batch: 5 });
  assert.is(three.scoreDraws, 3);
  assert.is(three.flags.clean.length, 6, 'seeds × draws rows');
  // Seed-major: rows 0 and 3 are seeds 3 and 4 under the evaluation draw, exactly the one-draw run.
  assert.equal([three.flags.clean[0], three.flags.clean[3]], one.flags.clean);
  assert.equal([three.flags.attacks.fgsm[0], three.flags.attacks.fgsm[3]], one.flags.attacks.fgsm);
  for (const d of [0, 1, 2]) assert.equal(three.flags.clean[d], draws[d].map((q, i) => q === labels[i]), `row ${d} is not draw ${d}`);
  assert.ok(three.flags.clean[1].every(Boolean));
  assert.is(three.clean.perSeed.length, 6);
  const refused = await evaluate(engine, p, data, { attacks, seeds: [3], scoreDraws: 0, batch: 5 }).then(() => null, (e: Error) => e);
  assert.match(String(refused), /scoreDraws must be a positive integer/);
});

test('a scoring draw is never an attack draw: draws 1, 2 use repeats −1, −2', () => {
  assert.equal(evaluationDraw(7, 5), { seed: 7, repeat: 0, firstIndex: 5 });
  assert.equal([1, 2].map((d) => evaluationDraw(7, 5, d).repeat), [-1, -2]);
});

test.run();
