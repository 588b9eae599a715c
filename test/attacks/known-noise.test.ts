// The known-noise threat model (apgd-known): an attacker who knows the defence's seed follows the
// pipeline's gradient under the very draw the evaluation scores with: equal, bit for bit, to the
// full-gradient sample at that draw, and unlike any EOT draw the other attacks use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { attackRepeat } from '../../engine/attacks/eot.ts';
import { fullGradientSample } from '../../engine/attacks/full-gradient.ts';
import { knownNoiseGradient } from '../../engine/attacks/index.ts';
import { evaluationDraw, type DefendedPipeline } from '../../engine/purify/defended.ts';
import { pipelineTarget } from '../../engine/attacks/target.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { SIZE, smoothClassifier, tinyDenoiser, tinyImages } from './fixtures.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

test('apgd-known follows the evaluation draw’s gradient at every step, not an EOT draw', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const p: DefendedPipeline = { classifier: smoothClassifier(engine, seed), defense: { denoiser: tinyDenoiser(engine, seed + 1), options: { method: 'diffpure', tStar: 5 } } };
  const n = 3;
  const x = fromArray(engine, tinyImages(random, n), [n, 1, SIZE, SIZE]);
  const labels = [1, 4, 7];
  const [defenceSeed, firstIndex] = [1 + Math.floor(random() * 1000), 11];
  const read = async (r: { grad: { read(): Promise<Float32Array>; dispose(): void } }) => {
    const g = await r.grad.read();
    r.grad.dispose();
    return g;
  };
  const known = knownNoiseGradient(pipelineTarget(p), labels, defenceSeed, firstIndex);
  const sample = fullGradientSample(p, labels, 'ce');
  const atEvaluation = await read(await sample(x, evaluationDraw(defenceSeed, firstIndex)));
  const atEot = await read(await sample(x, { seed: defenceSeed, repeat: attackRepeat(0, 0, 1), firstIndex }));
  for (const step of [0, 3]) {
    const g = await read(await known(x, step));
    assert.ok(g.every((v, i) => v === atEvaluation[i]), `step ${step}: not the evaluation draw's gradient`);
  }
  const gap = Math.hypot(...atEot.map((v, i) => v - atEvaluation[i])) / Math.hypot(...atEvaluation);
  console.log(`    ‖∇(EOT draw) − ∇(evaluation draw)‖ / ‖∇(evaluation draw)‖ = ${gap.toExponential(2)}`);
  assert.ok(gap > 1e-3, 'an EOT draw gives the same gradient: the check could not tell the draws apart');
  x.dispose();
});

test.run();
