// The evaluation on a tiny purifier + classifier: image ranges (shards) give exactly the whole
// run's per-image flags, a run killed between batches resumes from its checkpoint folder to the
// same result without redoing finished batches, a checkpoint of other settings is refused, and a
// surrogate chain is what the attack differentiates while the defence is what scores.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pipelineLogits, type DefendedPipeline } from '../../engine/purify/defended.ts';
import { evaluate, type AttackConfig, type EvalResult, type KeyedStore } from '../../engine/eval/evaluate.ts';
import { joinFlags, summarizeFlags } from '../../engine/eval/flags.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { surrogateGap } from '../../engine/eval/surrogate-gap.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { folderStore } from '../../tools/commands/eval-store.ts';
import { freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { smoothClassifier, tinyDenoiser, tinyImages } from '../attacks/fixtures.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);
const dir = mkdtempSync(join(tmpdir(), 'purify-eval-'));

const settings = { norm: 'linf' as const, eps: 0.1, steps: 2, eot: 1 };
const attacks: AttackConfig[] = [{ name: 'pgd', settings }, { name: 'fgsm', settings }];
const n = 5;
const seeds = [3, 4];
/** What is measured, without the wall times. */
const measured = (r: EvalResult) => ({ flags: r.flags, clean: r.clean, worstCase: r.worstCase, robust: r.attacks.map((a) => a.robust) });

async function setup() {
  const engine = await getEngine();
  if (!engine) return null;
  const classifier = smoothClassifier(engine, seed);
  const p: DefendedPipeline = { classifier, defense: { denoiser: tinyDenoiser(engine, seed + 1), options: { method: 'diffpure', tStar: 4 } } };
  const images = tinyImages(random, n);
  const labels = argmaxRows(await pipelineLogits({ classifier }, fromArray(engine, images, [n, 1, 8, 8]), { seed: 0, repeat: 0, firstIndex: 0 }), 10);
  return { engine, p, data: { images, labels, n } };
}

test('shards of the images give the whole run\'s flags; a killed run resumes to the same result', async () => {
  const s = await setup();
  if (!s) return;
  const { engine, p, data } = s;
  const whole = await evaluate(engine, p, data, { attacks, seeds, batch: 2 });
  // One engine runs one evaluation at a time (its scopes must not interleave).
  const shards: EvalResult[] = [];
  for (const range of [{ start: 2, end: 5 }, { start: 0, end: 2 }]) shards.push(await evaluate(engine, p, data, { attacks, seeds, batch: 2, range }));
  const joined = joinFlags(shards.map((r) => r.flags));
  assert.equal(joined, whole.flags, 'shards joined ≠ the whole run');
  const summaries = summarizeFlags(joined);
  assert.equal(summaries.clean, whole.clean);
  assert.equal(summaries.worstCase, whole.worstCase);

  // A kill after the second finished batch: the store throws instead of returning from put().
  const fingerprint = 'tiny diffpure';
  let puts = 0;
  const files = folderStore(join(dir, 'killed'), fingerprint);
  const dying: KeyedStore = {
    get: (key) => files.get(key),
    put: (key, value) => {
      files.put(key, value);
      if (++puts === 2) throw new Error('killed');
    },
  };
  await evaluate(engine, p, data, { attacks, seeds, batch: 2, store: dying }).then(() => assert.unreachable('the kill did not stop the run'), (e: Error) => assert.is(e.message, 'killed'));
  // The rerun (a new process would open the same folder) computes only what is missing.
  const reopened = folderStore(join(dir, 'killed'), fingerprint);
  let computed = 0;
  const counting: KeyedStore = { get: (key) => reopened.get(key), put: (key, value) => (computed++, reopened.put(key, value)) };
  const resumed = await evaluate(engine, p, data, { attacks, seeds, batch: 2, store: counting });
  assert.is(computed, 2 * 3 - 2, 'batches finished before the kill were redone');
  assert.equal(measured(resumed), measured(whole), 'the resumed run differs from an uninterrupted one');
  assert.throws(() => folderStore(join(dir, 'killed'), 'other settings'), /written by a run with other settings/);
});

test('checkpoints keep a grid\'s pixels exactly', async () => {
  const s = await setup();
  if (!s) return;
  const { engine, p, data } = s;
  const store = folderStore(join(dir, 'examples'), 'x');
  const first = await evaluate(engine, p, data, { attacks, seeds: [1], batch: 5, examples: 2, store });
  const again = await evaluate(engine, p, data, { attacks, seeds: [1], batch: 5, examples: 2, store: folderStore(join(dir, 'examples'), 'x') });
  assert.instance(again.examples!.attacks.pgd.adversarial, Float32Array);
  assert.equal(again.examples, first.examples);
  // A shard's grid shows its own first images (eval --shard K/N --grid).
  const shard = await evaluate(engine, p, data, { attacks, seeds: [1], batch: 2, examples: 2, range: { start: 3, end: 5 } });
  assert.ok(shard.examples, 'a shard that does not start at image 0 kept no examples for its grid');
  assert.equal([...shard.examples.labels], [...data.labels.slice(3, 5)]);
});

test('a surrogate chain is attacked, the defence scores; the gradient gap is 1 for an exact surrogate', async () => {
  const s = await setup();
  if (!s) return;
  const { engine, p, data } = s;
  const surrogate: DefendedPipeline = { ...p, defense: { ...p.defense, options: { ...p.defense.options, steps: 2 } } };
  const r = await evaluate(engine, p, data, { attacks, seeds: [1], batch: 5, surrogate });
  // The attack's images are what the surrogate attack makes, scored on the defence.
  const direct = await evaluate(engine, surrogate, data, { attacks, seeds: [1], batch: 5 });
  assert.equal(r.flags.surrogate, direct.flags.attacks, 'the surrogate\'s verdict is not that of an attack on the surrogate itself');
  assert.equal(r.flags.clean, (await evaluate(engine, p, data, { attacks, seeds: [1], batch: 5 })).flags.clean, 'clean accuracy must be the defence\'s');
  assert.is(r.attacks[0].eot, 1);
  assert.ok(r.surrogateAccuracy?.pgd);
  await evaluate(engine, { classifier: p.classifier }, data, { attacks, seeds: [1], batch: 5, surrogate }).then(() => assert.unreachable('a surrogate for no defence'), (e: Error) => assert.match(e.message, /needs a defence/));

  const x = fromArray(engine, data.images, [n, 1, 8, 8]);
  const opts = { samples: 2, seed: 5, firstIndex: 0 };
  const same = await surrogateGap(p, p, x, data.labels, opts);
  same.cosine.forEach((c) => assert.ok(Math.abs(c - 1) < 1e-6, `an exact surrogate has cosine ${c}`));
  same.normRatio.forEach((q) => assert.ok(Math.abs(q - 1) < 1e-6));
  // A surrogate behind another classifier is a broken stand-in: its gradients point elsewhere.
  const wrong: DefendedPipeline = { ...p, classifier: smoothClassifier(engine, seed + 7) };
  const broken = await surrogateGap(p, wrong, x, data.labels, opts);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  console.log(`    cosine: exact surrogate ${mean(same.cosine).toFixed(3)}, ceiling ${mean(same.ceiling).toFixed(3)}, other classifier ${mean(broken.cosine).toFixed(3)}`);
  assert.ok(mean(broken.cosine) < 0.9, `a surrogate with another classifier agrees at cosine ${mean(broken.cosine)}`);
  same.ceiling.forEach((c) => assert.ok(c > -1 && c <= 1 + 1e-6));
  x.dispose();
});

test.run();
