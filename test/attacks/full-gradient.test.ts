// The checkpointed full gradient through a (tiny, real) purifier: its forward pass is purify()'s,
// its gradient matches finite differences for DiffPure and GDMP-MSE (exact) and approximates them
// for GDMP-SSIM and AGDM (guidance held constant); BPDA is the classifier's gradient at the purified image.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bpdaSample } from '../../engine/attacks/bpda.ts';
import { fullGradientSample, traceChain } from '../../engine/attacks/full-gradient.ts';
import { classifierGradient, logitLoss } from '../../engine/attacks/objectives.ts';
import { purifyWith, type DefendedPipeline, type NoiseDraw } from '../../engine/attacks/pipeline.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { purify, type PurifyOptions } from '../../engine/purify/purifier.ts';
import { assertClose, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { SIZE, checkDirectional, smoothClassifier, tinyClassifier, tinyDenoiser, tinyImages, unitDirection } from './fixtures.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

type ChainOptions = PurifyOptions['method'] extends infer M ? Omit<PurifyOptions, 'seed'> & { method: M } : never;
const CHAINS: [string, ChainOptions][] = [
  ['diffpure DDPM t*=5', { method: 'diffpure', tStar: 5 }],
  ['diffpure DDIM η=0.5, 3 of t*=5', { method: 'diffpure', tStar: 5, steps: 3, eta: 0.5 }],
  ['gdmp DDPM s=20', { method: 'gdmp', tStar: 5, scale: 20 }],
  ['gdmp DDIM η=0, 3 of t*=5, snr s=5', { method: 'gdmp', tStar: 5, steps: 3, scale: 5, scaleSchedule: 'snr' }],
  // A per-image mean SSIM pulls each pixel far more weakly than MSE: s=200 moves the output about
  // as much as MSE's s=20 does.
  ['gdmp-ssim DDPM s=200', { method: 'gdmp', gdmpDistance: 'ssim', tStar: 5, scale: 200 }],
  ['agdm DDPM s=2', { method: 'agdm', tStar: 5, scale: 2 }],
  ['agdm DDIM, x̂₀ input, features', { method: 'agdm', tStar: 5, steps: 3, scale: 2, agdm: { input: 'x0hat', latent: 'features' } }],
];

async function fixture() {
  const engine = (await getEngine())!;
  // Smooth, so finite differences see no kinks; AGDM's guide is a CNN like the real one.
  const classifier = smoothClassifier(engine, seed);
  const defense = (options: ChainOptions) => ({ denoiser: tinyDenoiser(engine, seed + 1), guide: tinyClassifier(engine, seed + 2, true), options });
  return { engine, classifier, defense };
}

test('the checkpointed chain produces exactly what purify() produces', async () => {
  if (!(await getEngine())) return;
  const { engine, defense } = await fixture();
  const n = 3;
  const x = fromArray(engine, tinyImages(random, n), [n, 1, SIZE, SIZE]);
  for (const [name, options] of CHAINS) {
    const d = defense(options);
    const opts = { ...options, seed: 11, repeat: 2, firstIndex: 5 };
    const expected = await (await purify(d.denoiser, x, opts, d.guide)).read();
    const trace = await traceChain(d.denoiser, x, opts, d.guide);
    assertClose(`${name}: traced chain vs purify()`, await trace.purified.read(), expected, 1e-6);
    trace.dispose();
  }
});

test('full gradient through the purifier matches finite differences (fixed noise)', async () => {
  if (!(await getEngine())) return;
  const { engine, classifier, defense } = await fixture();
  const n = 2;
  const images = tinyImages(random, n);
  const x = fromArray(engine, images, [n, 1, SIZE, SIZE]);
  const labels = [Math.floor(random() * 10), Math.floor(random() * 10)];
  const draw: NoiseDraw = { seed: 3, repeat: 1, firstIndex: 0 };
  for (const [name, chain] of CHAINS) {
    // AGDM's class term uses ŷ = argmax c_φ(x′), which jumps where c_φ's prediction flips: the
    // purifier is discontinuous there, so finite differences check AGDM with the latent term only.
    const options = chain.method === 'agdm' ? { ...chain, agdm: { ...chain.agdm, classWeight: 0 } } : chain;
    const p: DefendedPipeline = { classifier, defense: defense(options) };
    const sample = fullGradientSample(p, labels, 'ce');
    const live = engine.stats().liveTensors;
    const r = await sample(x, draw);
    assert.is(engine.stats().liveTensors, live + 1, `${name}: a gradient sample leaks tensors`);
    const grad = await r.grad.read();
    r.grad.dispose();
    const lossAt = async (v: Float32Array) => {
      const purified = await purifyWith(p.defense, fromArray(engine, v, x.shape), draw);
      return logitLoss('ce', await classifier.logits(purified).read(), labels, 10).loss.reduce((a, b) => a + b, 0);
    };
    assertClose(`${name}: loss of the traced chain vs purify()`, [r.loss[0] + r.loss[1]], [await lossAt(images)], 1e-5);
    // AGDM and GDMP-SSIM hold their guidance constant (stop-gradient): an approximation (errors of
    // 1–25 % of ‖∇L‖ seen for AGDM, 0.1–3 % for GDMP-SSIM on this tiny pipeline), so only a loose
    // bound that a wrong chain gradient would still break.
    const tol = options.method === 'agdm' ? 0.5 : options.gdmpDistance === 'ssim' ? 0.1 : 2e-3;
    for (let d = 0; d < 3; d++) await checkDirectional(`${name}, direction ${d}`, grad, images, unitDirection(random, images.length), lossAt, 1e-3, tol);
  }
});

test('BPDA passes the classifier gradient at the purified image straight through', async () => {
  if (!(await getEngine())) return;
  const { engine, classifier, defense } = await fixture();
  const n = 4;
  const x = fromArray(engine, tinyImages(random, n), [n, 1, SIZE, SIZE]);
  const labels = Array.from({ length: n }, () => Math.floor(random() * 10));
  const draw: NoiseDraw = { seed: 4, repeat: 3, firstIndex: 0 };
  for (const [name, options] of CHAINS.slice(0, 3)) {
    const p: DefendedPipeline = { classifier, defense: defense(options) };
    const bpda = await bpdaSample(p, labels, 'ce')(x, draw);
    const atPurified = await classifierGradient(classifier, labels)(await purifyWith(p.defense, x, draw), 0);
    assertClose(`${name}: BPDA gradient = ∇f at the purified image`, await bpda.grad.read(), await atPurified.grad.read(), 1e-6);
    const full = await (await fullGradientSample(p, labels, 'ce')(x, draw)).grad.read();
    const b = await bpda.grad.read();
    const cos = b.reduce((s, v, i) => s + v * full[i], 0) / (Math.hypot(...b) * Math.hypot(...full));
    console.log(`    ${name}: cosine(BPDA, full gradient) = ${cos.toFixed(3)}`);
    assert.ok(Number.isFinite(cos));
  }
});

test.run();
