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
import { pipelineLogits } from '../../engine/purify/defended.ts';
import { fromArray } from '../../engine/ops/index.ts';

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

test.run();
