// The sanity checks can fail: each is run on an honest tiny target (it passes) and on a target
// broken the way evaluations go wrong — a stop-gradient, a quantiser passed straight through (a
// shattered gradient), a randomised transform whose noise the draw does not fix, a randomised
// gradient only EOT averages out, an attack stopped short — and must report FAIL.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pipelineTarget, type AttackTarget } from '../../engine/attacks/target.ts';
import type { AttackConfig } from '../../engine/eval/evaluate.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { attackFlags, bareBreaksCheck, convergenceChecks, gradientMatchCheck, sanityChecks, slack, squareCheck, unboundedCheck, type SanityCheck, type SanityContext } from '../../engine/eval/sanity.ts';
import type { Classifier } from '../../engine/models/types.ts';
import { fromArray } from '../../engine/ops/index.ts';
import type { Engine } from '../../engine/runtime.ts';
import { freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { SIZE, smoothClassifier, tinyDenoiser, tinyImages } from '../attacks/fixtures.ts';
import { antitheticNoise, quantiser, stopGradient, uncontrolledNoise } from './masked-targets.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);
const N = 16;
const PGD: AttackConfig = { name: 'pgd', settings: { norm: 'linf', eps: 0.3, steps: 10, eot: 1 } };
const SQUARE: AttackConfig = { name: 'square', settings: { norm: 'linf', eps: 0.3, steps: 200, eot: 1 } };

interface Setup {
  engine: Engine;
  classifier: Classifier;
  ctx: (target: AttackTarget) => SanityContext;
}

let setup: Setup | null | undefined;
/** A smooth MLP on N images labelled with its own clean predictions (100 % clean accuracy). */
async function getSetup(): Promise<Setup | null> {
  if (setup !== undefined) return setup;
  const engine = await getEngine();
  if (!engine) return (setup = null);
  const classifier = smoothClassifier(engine, seed);
  const images = tinyImages(random, N);
  const labels = argmaxRows(await engine.scopeAsync(() => classifier.logits(fromArray(engine, images, [N, 1, SIZE, SIZE])).read()), 10);
  const data = { images, labels, n: N };
  return (setup = { engine, classifier, ctx: (target) => ({ engine, target, data, seed: 3, batch: 8 }) });
}

const show = (what: string, c: SanityCheck) => console.log(`    ${what.padEnd(22)} ${c.passed === null ? 'n/a ' : c.passed ? 'pass' : 'FAIL'} ${c.name}: ${c.detail}`);

test('with a surrogate the checks attack it and score on the defence', async () => {
  const s = await getSetup();
  if (!s) return;
  const surrogate = pipelineTarget({ classifier: s.classifier });
  const labels = s.ctx(surrogate).data.labels;
  // A defence that always answers the true label, whatever its input: every image survives on it.
  const oracle: AttackTarget = {
    ...surrogate,
    sample: () => assert.unreachable('the defence is never differentiated by the attacks') as never,
    logits: async (x, draw) => Float32Array.from({ length: x.shape[0] * 10 }, (_, j) => (j % 10 === labels[draw.firstIndex + Math.floor(j / 10)] ? 1 : 0)),
  };
  const onSurrogate = await attackFlags(s.ctx(surrogate), PGD);
  const onDefence = await attackFlags({ ...s.ctx(surrogate), scored: oracle }, PGD);
  assert.ok(onSurrogate.filter(Boolean).length <= slack(N), 'PGD breaks the surrogate itself');
  assert.ok(onDefence.every(Boolean), 'the surrogate attack\'s images are judged by the defence');
});

test('slack is max(1 image, 1 %)', () => {
  assert.is(slack(8), 1);
  assert.is(slack(100), 1);
  assert.is(slack(512), 5.12);
});

test('healthy bare classifier: every check passes', async () => {
  const s = await getSetup();
  if (!s) return;
  const ctx = s.ctx(pipelineTarget({ classifier: s.classifier }));
  const robust = { pgd: await attackFlags(ctx, PGD), square: await attackFlags(ctx, SQUARE) };
  const checks = await sanityChecks(s.engine, { classifier: s.classifier }, ctx.data, { attack: PGD, n: N, seed: ctx.seed, batch: ctx.batch, robust });
  for (const c of checks) show('healthy classifier', c);
  assert.equal(checks.map((c) => c.passed), [true, null, true, true, true, true]);
});

test('healthy tiny purifiers: the full gradient matches finite differences', async () => {
  const s = await getSetup();
  if (!s) return;
  const denoiser = tinyDenoiser(s.engine, seed + 1);
  for (const options of [{ method: 'diffpure' as const, tStar: 4 }, { method: 'gdmp' as const, tStar: 4, scale: 5 }]) {
    const c = await gradientMatchCheck(s.ctx(pipelineTarget({ classifier: s.classifier, defense: { denoiser, options } })), PGD);
    show(options.method, c);
    assert.ok(c.passed, c.detail);
  }
});

test('stop-gradient: the gradient, unbounded-ε, bare-classifier and square checks fail', async () => {
  const s = await getSetup();
  if (!s) return;
  const honest = pipelineTarget({ classifier: s.classifier });
  const ctx = s.ctx(stopGradient(honest));
  const checks = [
    await gradientMatchCheck(ctx, PGD),
    await unboundedCheck(ctx, PGD),
    await bareBreaksCheck(ctx, PGD, 'the masked classifier'),
    squareCheck({ pgd: await attackFlags(ctx, PGD), square: await attackFlags(ctx, SQUARE) }),
  ];
  for (const c of checks) show('stop-gradient', c);
  for (const c of checks) assert.is(c.passed, false, `${c.name} passed a stop-gradient: ${c.detail}`);
});

test('quantiser passed straight through (shattered gradient): the gradient check fails', async () => {
  const s = await getSetup();
  if (!s) return;
  const c = await gradientMatchCheck(s.ctx(quantiser(pipelineTarget({ classifier: s.classifier }))), PGD);
  show('quantiser', c);
  assert.is(c.passed, false, c.detail);
});

test('randomised transform the draw does not fix: the gradient check fails', async () => {
  const s = await getSetup();
  if (!s) return;
  const c = await gradientMatchCheck(s.ctx(uncontrolledNoise(pipelineTarget({ classifier: s.classifier }), seed)), PGD);
  show('uncontrolled noise', c);
  assert.is(c.passed, false, c.detail);
});

test('convergence: an attack stopped short fails in steps', async () => {
  const s = await getSetup();
  if (!s) return;
  const ctx = s.ctx(pipelineTarget({ classifier: s.classifier }));
  // Steps of ε/20: each doubling of the steps doubles how far the attack gets, and somewhere between
  // 1 and 16 steps accuracy falls by several images per doubling (how many steps depends on the net).
  const results: SanityCheck[] = [];
  for (const steps of [1, 2, 4, 8]) {
    const [c] = await convergenceChecks(ctx, { name: 'pgd', settings: { norm: 'linf', eps: 0.2, steps, eot: 1, stepSize: 0.01 } });
    show(`${steps} steps of ε/20`, c);
    results.push(c);
  }
  assert.ok(results.some((c) => c.passed === false), 'no stopped-short budget failed the convergence check');
});

test('convergence: a gradient whose noise only EOT averages out fails in EOT samples', async () => {
  const s = await getSetup();
  if (!s) return;
  const target = antitheticNoise(pipelineTarget({ classifier: s.classifier }), seed);
  const [inSteps, inEot] = await convergenceChecks(s.ctx(target), { name: 'pgd-eot', settings: { ...PGD.settings, eot: 1 } });
  show('antithetic noise', inSteps);
  show('antithetic noise', inEot);
  assert.is(inEot.passed, false, inEot.detail);
});

test.run();
