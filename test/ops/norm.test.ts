import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad, type Engine, type Tensor } from '../../engine/index.ts';
import { fromArray, mul, sum } from '../../engine/ops/index.ts';
import { batchNormInference, groupNorm, layerNormCHW } from '../../engine/ops/norm.ts';
import * as ref from '../../engine/reference/norm.ts';
import { map, nd, type Nd } from '../../engine/reference/nd.ts';
import { assertClose, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { checkGrads, randomNd, upload } from '../helpers/harness.ts';
import { checkFiniteDiff, timeIt } from './finite-diff-check.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

/** γ around 1 and β around 0, like trained parameters, but random so every index matters. */
const randomGamma = (shape: number[]) => map(randomNd(random, shape, 0.3), (v) => Math.fround(1 + v));
const positive = (shape: number[]) => map(randomNd(random, shape), (v) => Math.fround(0.2 + v * v));

/**
 * Forward vs float64, then gradients of sum(f ⊙ w) w.r.t. every input vs the reference backward.
 * compare() divides by at least 1% of the largest expected value, so entries that cancel to near
 * zero see a few f32 ulps of their terms as ~1e-5: outputs x̂·γ + β, and parameter gradients that
 * sum ~100 terms of either sign. Hence 3e-5 forward and 1e-4 (as for matmul) for gradients.
 */
async function checkOp(engine: Engine, name: string, inputs: Nd[], f: (ts: Tensor[]) => Tensor, expected: Nd, grads: (w: Nd) => Nd[]) {
  const ts = inputs.map((x) => upload(engine, x));
  const y = f(ts);
  assert.equal([...y.shape], expected.shape);
  assertClose(`${name} forward`, await y.read(), expected.data, 3e-5);
  for (const t of [...ts, y]) t.dispose();
  const w = randomNd(random, expected.shape);
  await checkGrads(engine, name, inputs, f, w, grads(w), 1e-4);
}

const GROUP_CASES: [number[], number][] = [
  [[1, 6, 5, 5], 3], [[3, 6, 5, 5], 3], [[2, 64, 8, 8], 32], [[1, 128, 4, 4], 32], [[2, 128, 3, 5], 32], [[2, 40, 7, 7], 8], [[4, 12], 3],
];

test('group norm (± fused SiLU) forward and gradients w.r.t. x, γ, β match float64', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const [shape, groups] of GROUP_CASES) {
    for (const silu of [false, true]) {
      const x = randomNd(random, shape, 2);
      const gamma = randomGamma([shape[1]]), beta = randomNd(random, [shape[1]], 0.5);
      await checkOp(engine, `groupNorm${silu ? '+silu' : ''} [${shape}] g${groups}`, [x, gamma, beta],
        ([a, b, c]) => groupNorm(a, groups, b, c, { silu }),
        ref.groupNorm(x, groups, gamma, beta, 1e-5, silu),
        (w) => Object.values(ref.groupNormBackward(x, groups, gamma, beta, w, 1e-5, silu)));
    }
  }
});

test('layer norm over (C, H, W) on the MNIST UNet shapes: forward and gradients', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const cases = [[1, 10, 28, 28], [3, 20, 14, 14], [2, 40, 7, 7], [1, 80, 3, 3], [5, 80, 3, 3], [2, 5, 1, 1]];
  for (const shape of cases) {
    const x = randomNd(random, shape, 3);
    const gamma = randomGamma(shape.slice(1)), beta = randomNd(random, shape.slice(1), 0.5);
    await checkOp(engine, `layerNormCHW [${shape}]`, [x, gamma, beta],
      ([a, b, c]) => layerNormCHW(a, b, c),
      ref.layerNorm(x, gamma, beta),
      (w) => Object.values(ref.layerNormBackward(x, gamma, beta, w)));
  }
});

test('batch norm (inference) forward and gradients w.r.t. x, γ, β match float64', async () => {
  const engine = await getEngine();
  if (!engine) return;
  for (const shape of [[1, 6, 5, 5], [3, 10, 7, 7], [2, 16, 1, 1], [5, 7], [2, 64, 9, 9]]) {
    const c = shape[1];
    const x = randomNd(random, shape, 2), mean = randomNd(random, [c]), variance = positive([c]);
    const gamma = randomGamma([c]), beta = randomNd(random, [c], 0.5);
    const [meanT, varT] = [mean, variance].map((v) => upload(engine, v));
    await checkOp(engine, `batchNormInference [${shape}]`, [x, gamma, beta],
      ([a, b, d]) => batchNormInference(a, meanT, varT, b, d),
      ref.batchNormInference(x, mean, variance, gamma, beta),
      (w) => Object.values(ref.batchNormInferenceBackward(x, mean, variance, gamma, w)));
    meanT.dispose();
    varT.dispose();
  }
});

test('norm gradients agree with finite differences of the float64 forward', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = randomNd(random, [2, 6, 3, 3]), gamma = randomGamma([6]), beta = randomNd(random, [6], 0.5);
  for (const silu of [false, true]) {
    await checkFiniteDiff(engine, random, `groupNorm${silu ? '+silu' : ''} [2,6,3,3] g3`, [x, gamma, beta],
      ([a, b, c]) => groupNorm(a, 3, b, c, { silu }), ([a, b, c]) => ref.groupNorm(a, 3, b, c, 1e-5, silu));
  }
  const xl = randomNd(random, [2, 3, 2, 2]), gl = randomGamma([3, 2, 2]), bl = randomNd(random, [3, 2, 2], 0.5);
  await checkFiniteDiff(engine, random, 'layerNormCHW [2,3,2,2]', [xl, gl, bl], ([a, b, c]) => layerNormCHW(a, b, c), ([a, b, c]) => ref.layerNorm(a, b, c));
  const mean = randomNd(random, [6]), variance = positive([6]);
  const [meanT, varT] = [mean, variance].map((v) => upload(engine, v));
  await checkFiniteDiff(engine, random, 'batchNormInference [2,6,3,3]', [x, gamma, beta],
    ([a, b, c]) => batchNormInference(a, meanT, varT, b, c), ([a, b, c]) => ref.batchNormInference(a, mean, variance, b, c));
  meanT.dispose();
  varT.dispose();
});

test('statistics stay accurate under a large common offset (two-pass, shifted sums)', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const shape = [2, 64, 16, 16];
  const x = map(randomNd(random, shape), (v) => Math.fround(1000 + v));
  const gamma = randomGamma([64]), beta = randomNd(random, [64], 0.5);
  const y = groupNorm(upload(engine, x), 32, upload(engine, gamma), upload(engine, beta));
  assertClose('groupNorm [2,64,16,16] around 1000', await y.read(), ref.groupNorm(x, 32, gamma, beta).data, 1e-4);
});

test('inference calls leave no tensors behind; wrong shapes are rejected', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [2, 6, 3, 3]));
  const p = fromArray(engine, new Float32Array(6).fill(1), [6]);
  const before = engine.liveTensors.size;
  const outs = [groupNorm(x, 3, p, p, { silu: true }), batchNormInference(x, p, p, p, p)];
  assert.is(engine.liveTensors.size, before + outs.length, 'only the outputs stay alive');
  assert.throws(() => groupNorm(x, 4, p, p), /groups/);
  assert.throws(() => layerNormCHW(x, p, p), /54 values/);
  for (const t of [x, p, ...outs]) t.dispose();
});

test('every kernel these ops launched was precompiled by normKernels() / softmaxKernels()', async () => {
  const engine = await getEngine();
  if (!engine) return;
  assert.is(engine.stats().lateCompiles, 0);
});

test('timing: groupNorm+SiLU on [8,64,32,32], forward and backward', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const shape = [8, 64, 32, 32];
  const [x, gradOut] = [0, 1].map(() => upload(engine, randomNd(random, shape)));
  const gamma = upload(engine, randomGamma([64])), beta = upload(engine, randomNd(random, [64]));
  await timeIt(engine, 'groupNorm+silu forward [8,64,32,32] g32', 20, () => engine.scope(() => void groupNorm(x, 32, gamma, beta, { silu: true })));
  await timeIt(engine, 'groupNorm+silu forward+backward (x, γ, β)', 5, () => {
    const { value, grads } = valueAndGrad(engine, () => groupNorm(x, 32, gamma, beta, { silu: true }), [x, gamma, beta], gradOut);
    for (const t of [value, ...grads]) t.dispose();
  });
  for (const t of [x, gradOut, gamma, beta]) t.dispose();
});

test.run();
