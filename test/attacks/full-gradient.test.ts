// The checkpointed full gradient through a (tiny, real) purifier: its forward pass is purify()'s,
// its gradient matches finite differences for every method, guidance included (the tape
// differentiates AGDM's and GDMP-SSIM's guidance gradients); the held-constant surrogate does not;
// BPDA is the classifier's gradient at the purified image.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bpdaSample } from '../../engine/attacks/bpda.ts';
import { chainVjp, fullGradientSample, traceChain, type GuidanceGradient } from '../../engine/attacks/full-gradient.ts';
import { classifierGradient, logitLoss } from '../../engine/attacks/objectives.ts';
import { purifyWith, type DefendedPipeline, type NoiseDraw } from '../../engine/purify/defended.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { purify, type PurifyOptions } from '../../engine/purify/purifier.ts';
import { assertClose, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import type { Classifier, Denoiser } from '../../engine/models/types.ts';
import type { Engine } from '../../engine/runtime.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { SIZE, checkDirectional, smoothClassifier, smoothGuide, tinyClassifier, tinyDenoiser, tinyImages, unitDirection } from './fixtures.ts';

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
  // purify() equivalence uses the ReLU guide like the real one; gradients the smooth one (no kinks).
  const defense = (options: ChainOptions, smooth = false) => ({
    denoiser: tinyDenoiser(engine, seed + 1), guide: smooth ? smoothGuide(engine, seed + 3) : tinyClassifier(engine, seed + 2, true), options,
  });
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
    const p: DefendedPipeline = { classifier, defense: defense(options, true) };
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
    for (let d = 0; d < 3; d++) await checkDirectional(`${name}, direction ${d}`, grad, images, unitDirection(random, images.length), lossAt, 1e-3, 2e-3);
  }
});

/**
 * L(x′) = ⟨final state of the chain, w⟩ (no classifier, no clamp: nothing but the chain) and its
 * gradient by chainVjp with the guidance exact or held.
 */
async function chainLoss(denoiser: Denoiser, guide: Classifier, x: Tensor, opts: PurifyOptions, w: Tensor, mode: GuidanceGradient) {
  const trace = await traceChain(denoiser, x, opts, guide, mode);
  try {
    const final = await trace.final.read();
    const wv = await w.read();
    const grad = await chainVjp(denoiser, trace, w, x, guide);
    const g = await grad.read();
    grad.dispose();
    return { loss: final.reduce((s, v, i) => s + v * wv[i], 0), grad: g, labels: trace.ref?.predicted ?? [] };
  } finally {
    trace.dispose();
  }
}

const AGDM_EXACT: [string, Omit<PurifyOptions, 'seed'>][] = [
  ['agdm DDPM t*=4 s=5, both terms', { method: 'agdm', tStar: 4, scale: 5 }],
  ['agdm DDIM 3 of t*=5 s=10, x̂₀ input, features', { method: 'agdm', tStar: 5, steps: 3, scale: 10, agdm: { input: 'x0hat', latent: 'features' } }],
];

test('exact AGDM chain gradient (class and latent terms, smooth c_φ) matches central differences to 1e-3; the held-constant one does not', async () => {
  if (!(await getEngine())) return;
  const { engine, defense } = await fixture();
  const n = 2;
  const images = tinyImages(random, n);
  const x = fromArray(engine, images, [n, 1, SIZE, SIZE]);
  const w = fromArray(engine, Float32Array.from({ length: images.length }, () => random() - 0.5), x.shape);
  for (const [name, chain] of AGDM_EXACT) {
    const { denoiser, guide } = defense(chain, true);
    const opts = { ...chain, seed: 7, repeat: 1 };
    const exact = await chainLoss(denoiser, guide, x, opts, w, 'exact');
    const held = await chainLoss(denoiser, guide, x, opts, w, 'held');
    const norm = Math.hypot(...exact.grad);
    const gap = Math.hypot(...exact.grad.map((g, i) => g - held.grad[i])) / norm;
    console.log(`    ${name}: ‖∇held − ∇exact‖/‖∇exact‖ = ${gap.toExponential(2)}`);
    // Along the exact gradient's own direction, along the direction where the two gradients
    // disagree (finite differences decide which is right; a random direction in 2·SIZE² dimensions
    // sees only ~1/√(2·SIZE²) of the disagreement, so it cannot be the discriminating one) and a
    // random direction.
    const disagreement = exact.grad.map((g, i) => held.grad[i] - g);
    const disagreementNorm = Math.hypot(...disagreement);
    const directions: [string, Float32Array][] = [
      ['∇exact', Float32Array.from(exact.grad, (g) => g / norm)],
      ['∇held − ∇exact', Float32Array.from(disagreement, (g) => g / disagreementNorm)],
      ['random', unitDirection(random, images.length)],
    ];
    for (const [label, v] of directions) {
      const [exactErr, heldErr] = await directionalErrors(engine, denoiser, guide, images, v, opts, w, exact.labels, [exact.grad, held.grad]);
      console.log(`    ${name}, along ${label}: |Δ|/‖∇L‖ exact ${exactErr.toExponential(2)}  held ${heldErr.toExponential(2)}`);
      assert.ok(exactErr <= 1e-3, `${name}, along ${label}: exact gradient off by ${exactErr} of ‖∇L‖`);
      if (label === '∇held − ∇exact') assert.ok(heldErr > 1e-3, `${name}: the held-constant gradient passed the check it should fail (${heldErr} of ‖∇L‖)`);
    }
  }
});

/**
 * Each gradient's error along v, relative to ‖∇L‖: e(h) = ((L(x₊) − L(x₋)) − ⟨∇L, d⟩)/‖d‖ with
 * x± = x ± h·v rounded to f32 and d = x₊ − x₋ the displacement the inputs really have (rounding
 * moves the direction by ~1e-4 of h). At h = 5e-3 the f32 roughness of the chain's loss (an error
 * ∝ 1/h, ~1e-4 here) and the h² curvature term are both well under 1e-3; a step whose ends see
 * other labels ŷ (where the chain jumps) is skipped, and h/2 and h/4 are tried too.
 */
async function directionalErrors(engine: Engine, denoiser: Denoiser, guide: Classifier, images: Float32Array, v: Float32Array, opts: PurifyOptions, w: Tensor, labels: number[], grads: Float32Array[]): Promise<number[]> {
  const wv = await w.read();
  const lossAt = async (xv: Float32Array) => {
    const xs = fromArray(engine, xv, [images.length / (SIZE * SIZE), 1, SIZE, SIZE]);
    const trace = await traceChain(denoiser, xs, opts, guide, 'held');
    const final = await trace.final.read();
    const same = trace.ref!.predicted.every((l, i) => l === labels[i]);
    trace.dispose();
    xs.dispose();
    return same ? final.reduce((s, f, i) => s + f * wv[i], 0) : NaN;
  };
  const errorsAt = async (h: number) => {
    const plus = images.map((p, i) => p + h * v[i]);
    const minus = images.map((p, i) => p - h * v[i]);
    const diff = (await lossAt(plus)) - (await lossAt(minus));
    const d = Float64Array.from(plus, (p, i) => p - minus[i]);
    const dNorm = Math.hypot(...d);
    return grads.map((g) => (diff - g.reduce((s, e, i) => s + e * d[i], 0)) / dNorm);
  };
  // Each gradient's smallest error over the steps whose ends keep ŷ: a wrong gradient's error does
  // not depend on h, the curvature term shrinks with it, and the f32 roughness (~4e-4 at 1.25e-3)
  // stays under 1e-3.
  const best = grads.map(() => Infinity);
  for (const h of [5e-3, 2.5e-3, 1.25e-3]) {
    const errors = await errorsAt(h);
    if (errors.every(Number.isFinite)) errors.forEach((e, j) => (best[j] = Math.min(best[j], Math.abs(e) / Math.hypot(...grads[j]))));
  }
  if (best.some((e) => e === Infinity)) throw new Error('ŷ flips within every step tried');
  return best;
}

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
