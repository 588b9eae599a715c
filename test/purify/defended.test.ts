// The one defended pipeline (engine/purify/defended.ts): purifyAndClassify's majority vote over
// repeated purifications equals the vote of the single draws it is made of (ties to the smallest
// class), returns the first draw's purified images, and without a defence is the bare classifier.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { pipelineLogits, purifyAndClassify, purifyWith, type DefendedPipeline } from '../../engine/purify/defended.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { SIZE, tinyClassifier, tinyDenoiser, tinyImages } from '../attacks/fixtures.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

test('majority vote over repeats, first draw purified, bare pipeline = classifier', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const n = 24;
  const classifier = tinyClassifier(engine, seed);
  // A deep t* on the tiny model: draws disagree, so the vote is exercised.
  const p: DefendedPipeline = { classifier, defense: { denoiser: tinyDenoiser(engine, seed + 1), options: { method: 'diffpure', tStar: 15 } } };
  const x = fromArray(engine, tinyImages(random, n), [n, 1, SIZE, SIZE]);
  const draw = { seed: 4, repeat: 2, firstIndex: 7 };
  const single: number[][] = [];
  for (let r = 0; r < 3; r++) single.push(argmaxRows(await pipelineLogits(p, x, { ...draw, repeat: draw.repeat + r }), 10));
  const expected = Array.from({ length: n }, (_, i) => {
    const votes = new Array(10).fill(0);
    single.forEach((s) => votes[s[i]]++);
    return votes.indexOf(Math.max(...votes));
  });
  const voted = await purifyAndClassify(p, x, draw, 3);
  assert.equal(voted.predictions, expected);
  const disagreements = single[0].filter((c, i) => c !== single[1][i] || c !== single[2][i]).length;
  console.log(`    ${disagreements} of ${n} images get different labels across the 3 draws`);
  const first = await engine.scopeAsync(async () => (await purifyWith(p.defense, x, draw)).read());
  assert.equal(Array.from(voted.purified!), Array.from(first), 'purified images are the first draw\'s');
  const bare = await purifyAndClassify({ classifier }, x, draw, 3);
  assert.equal(bare.predictions, argmaxRows(await engine.scopeAsync(() => classifier.logits(x).read()), 10));
  assert.is(bare.purified, null);
  x.dispose();
});

test.run();
