import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad, type Engine, type Tensor } from '../../engine/index.ts';
import { mul, sum } from '../../engine/ops/index.ts';
import { concatChannels, crop2d, layoutKernels, pad2d, padChannels, sliceChannels, subsample2x } from '../../engine/ops/layout.ts';
import { avgPool2x2, globalAvgPool, maxPool2x2, poolKernels, upsampleNearest2x } from '../../engine/ops/pool.ts';
import { nd, type Nd } from '../../engine/reference/nd.ts';
import * as ref from '../../engine/reference/spatial.ts';
import { assertClose, finiteDiff, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { checkGrads, download, randomNd, upload } from '../helpers/harness.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

async function engineWithKernels(): Promise<Engine | null> {
  const engine = await getEngine();
  await engine?.precompile([...poolKernels(), ...layoutKernels()]);
  return engine;
}

/** Distinct values (a shuffled ramp plus jitter) so no max-pool window holds a tie or a near-tie. */
function distinctNd(shape: number[]): Nd {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.01 + random() * 0.002);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [values[i], values[j]] = [values[j], values[i]];
  }
  return nd(shape, values.map(Math.fround));
}

interface Case {
  name: string;
  inputs: Nd[];
  gpu: (ts: Tensor[]) => Tensor;
  ref: (xs: Nd[]) => Nd;
  refBackward: (xs: Nd[], g: Nd) => Nd[];
  tol: number;
  /** assertClose's relative-error floor for the forward check (1 for means that cancel). */
  floor?: number;
}

/** A pure copy is exact; tol > 0 where the gradient sums several elements. */
const remapCase = (name: string, x: Nd, gpu: (t: Tensor) => Tensor, remap: ref.Remap, tol = 0): Case => ({
  name,
  inputs: [x],
  gpu: ([t]) => gpu(t),
  ref: ([v]) => ref.apply(v, remap),
  refBackward: ([v], g) => [ref.applyBackward(v.shape, g, remap)],
  tol,
});

/** GPU forward vs reference, GPU gradients vs reference gradients, and (small inputs) vs finite differences of the reference. */
async function check(engine: Engine, c: Case): Promise<void> {
  const expected = c.ref(c.inputs);
  const out = c.gpu(c.inputs.map((x) => upload(engine, x)));
  assert.equal([...out.shape], expected.shape, `${c.name}: shape`);
  assertClose(`${c.name} forward`, (await download(out)).data, expected.data, c.tol, c.floor);
  const g = randomNd(random, expected.shape);
  await checkGrads(engine, c.name, c.inputs, c.gpu, g, c.refBackward(c.inputs, g), c.tol);
  if (c.inputs.every((x) => x.data.length <= 2000)) {
    const ts = c.inputs.map((x) => upload(engine, x));
    const w = upload(engine, g);
    const { grads } = valueAndGrad(engine, () => sum(mul(c.gpu(ts), w)), ts);
    for (let k = 0; k < ts.length; k++) {
      const got = await grads[k].read();
      const idx = Array.from({ length: 8 }, () => Math.floor(random() * got.length));
      const loss = (v: Float64Array) => c.ref(c.inputs.map((x, j) => (j === k ? nd(x.shape, v) : x))).data.reduce((s, y, i) => s + y * g.data[i], 0);
      const fd = finiteDiff(loss, c.inputs[k].data, idx, 1e-4);
      assertClose(`${c.name} d/d input ${k} vs finite differences`, idx.map((i) => got[i]), fd, 1e-5, 1e-1);
    }
  }
}

const IMAGE_SHAPES = [[1, 3, 7, 13], [2, 5, 13, 3], [2, 6, 8, 8], [3, 2, 1, 5], [1, 1, 2, 2], [2, 16, 32, 32]];

test('avg pool, max pool and nearest upsampling: forward and gradients', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const shape of IMAGE_SHAPES) {
    const x = randomNd(random, shape);
    await check(engine, {
      name: `avgPool2x2 [${shape}]`, inputs: [x], gpu: ([t]) => avgPool2x2(t), tol: 1e-5,
      ref: ([v]) => ref.avgPool2x2(v), refBackward: ([v], g) => [ref.avgPool2x2Backward(v.shape, g)],
    });
    await check(engine, {
      name: `maxPool2x2 [${shape}]`, inputs: [distinctNd(shape)], gpu: ([t]) => maxPool2x2(t), tol: 0,
      ref: ([v]) => ref.maxPool2x2(v), refBackward: ([v], g) => [ref.maxPool2x2Backward(v, g)],
    });
    await check(engine, remapCase(`upsampleNearest2x [${shape}]`, x, upsampleNearest2x, ref.upsampleNearest2x(shape), 1e-5));
    await check(engine, {
      name: `globalAvgPool [${shape}] (error / max |mean|)`, inputs: [x], gpu: ([t]) => globalAvgPool(t), tol: 1e-5, floor: 1,
      ref: ([v]) => ref.globalAvgPool(v), refBackward: ([v], g) => [ref.globalAvgPoolBackward(v.shape, g)],
    });
  }
});

test('max pool ties send the gradient to the first maximum, as PyTorch does', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const x = nd([1, 1, 2, 4], [1, 1, 0, 2, 1, 1, 2, 2]);
  const t = upload(engine, x);
  const { grads } = valueAndGrad(engine, () => sum(maxPool2x2(t)), [t]);
  assert.equal([...(await grads[0].read())], [1, 0, 0, 1, 0, 0, 0, 0]);
  assert.equal([...ref.maxPool2x2Backward(x, nd([1, 1, 1, 2], [1, 1])).data], [1, 0, 0, 1, 0, 0, 0, 0]);
});

test('pad, crop, channel pad/slice, subsample, concat: forward and gradients', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const shape of [[2, 10, 6, 6], [1, 3, 7, 13], [3, 5, 13, 3]]) {
    const x = randomNd(random, shape);
    const [, c, h, w] = shape;
    await check(engine, remapCase(`pad2d bottom/right 1 [${shape}]`, x, (t) => pad2d(t, { bottom: 1, right: 1 }), ref.pad2d(shape, 0, 1, 0, 1)));
    await check(engine, remapCase(`pad2d 2,1,3,0 [${shape}]`, x, (t) => pad2d(t, { top: 2, bottom: 1, left: 3 }), ref.pad2d(shape, 2, 1, 3, 0)));
    await check(engine, remapCase(`pad2d negative (crop) [${shape}]`, x, (t) => pad2d(t, { top: -1, right: -1, left: 2 }), ref.pad2d(shape, -1, 0, 2, -1)));
    await check(engine, remapCase(`crop2d [${shape}]`, x, (t) => crop2d(t, 1, 2, h - 2, w - 2), ref.crop2d(shape, 1, 2, h - 2, w - 2)));
    await check(engine, remapCase(`padChannels 2,3 [${shape}]`, x, (t) => padChannels(t, 2, 3), ref.padChannels(shape, 2, 3)));
    await check(engine, remapCase(`sliceChannels [${shape}]`, x, (t) => sliceChannels(t, 1, c - 2), ref.sliceChannels(shape, 1, c - 2)));
    await check(engine, remapCase(`subsample2x [${shape}]`, x, subsample2x, ref.subsample2x(shape)));
    const skip = randomNd(random, [shape[0], 3, h, w]);
    const extra = randomNd(random, [shape[0], 1, h, w]);
    await check(engine, {
      name: `concatChannels [skip, x, extra] [${shape}]`, inputs: [skip, x, extra], tol: 0,
      gpu: (ts) => concatChannels(ts), ref: (xs) => ref.concatChannels(xs),
      refBackward: (xs, g) => ref.concatChannelsBackward(xs.map((v) => v.shape), g),
    });
  }
});

test('MNIST UNet pad 6→7 then concat [skip, x]; ResNet option-A shortcut [2,16,32,32] → [2,32,16,16]', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const skip = randomNd(random, [2, 20, 7, 7]);
  const up = randomNd(random, [2, 20, 6, 6]);
  const padded = ref.apply(up, ref.pad2d(up.shape, 0, 1, 0, 1));
  await check(engine, {
    name: 'concat [skip, pad(up)]', inputs: [skip, up], tol: 0,
    gpu: ([s, u]) => concatChannels([s, pad2d(u, { bottom: 1, right: 1 })]),
    ref: ([s, u]) => ref.concatChannels([s, ref.apply(u, ref.pad2d(u.shape, 0, 1, 0, 1))]),
    refBackward: ([s, u], g) => {
      const [gs, gp] = ref.concatChannelsBackward([s.shape, padded.shape], g);
      return [gs, ref.applyBackward(u.shape, gp, ref.pad2d(u.shape, 0, 1, 0, 1))];
    },
  });
  const x = randomNd(random, [2, 16, 32, 32]);
  const sub = ref.subsample2x(x.shape);
  const padC = ref.padChannels(sub.outShape, 8, 8);
  await check(engine, {
    name: 'option-A shortcut', inputs: [x], tol: 0,
    gpu: ([t]) => padChannels(subsample2x(t), 8, 8),
    ref: ([v]) => ref.apply(ref.apply(v, sub), padC),
    refBackward: ([v], g) => [ref.applyBackward(v.shape, ref.applyBackward(sub.outShape, g, padC), sub)],
  });
  const out = padChannels(subsample2x(upload(engine, x)), 8, 8);
  assert.equal([...out.shape], [2, 32, 16, 16]);
});

test('bad shapes are rejected with clear errors', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [1, 2, 3, 3]));
  assert.throws(() => crop2d(x, 1, 1, 3, 2), /crop2d/);
  assert.throws(() => sliceChannels(x, 1, 2), /sliceChannels/);
  assert.throws(() => concatChannels([x, upload(engine, randomNd(random, [1, 2, 3, 4]))]), /concatChannels/);
  assert.throws(() => avgPool2x2(upload(engine, randomNd(random, [3, 3]))), /avgPool2x2/);
  assert.throws(() => pad2d(x, { left: -4 }), /pad2d/);
});

test('every kernel launched was precompiled; repeated use returns the pool to its live bytes', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [2, 4, 9, 9]));
  const step = () => {
    const { value, grads } = valueAndGrad(engine, () => sum(concatChannels([maxPool2x2(pad2d(x, { right: 1, bottom: 1 })), padChannels(subsample2x(avgPool2x2(upsampleNearest2x(x))), 0, 0)])), [x]);
    value.dispose();
    grads.forEach((g) => g.dispose());
    engine.scope(() => {
      sliceChannels(crop2d(x, 1, 1, 5, 5), 1, 2);
    });
  };
  for (let i = 0; i < 20; i++) step();
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 100; i++) step();
  await engine.sync();
  const after = engine.stats();
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(after.lateCompiles, 0, 'poolKernels() and layoutKernels() list every kernel');
});

test.run();
