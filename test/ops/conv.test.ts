import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad, type Engine, type Tensor } from '../../engine/index.ts';
import { mul, sum } from '../../engine/ops/index.ts';
import { conv2d, convKernels, convTranspose2d, type Conv2dOptions, type ConvTranspose2dOptions } from '../../engine/ops/conv.ts';
import * as ref from '../../engine/reference/conv.ts';
import { unary } from '../../engine/reference/elementwise.ts';
import { map, nd, type Nd } from '../../engine/reference/nd.ts';
import { assertClose, compare, finiteDiff, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { checkGrads, randomNd, upload } from '../helpers/harness.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

async function engineWithKernels(): Promise<Engine | null> {
  const engine = await getEngine();
  if (engine) await engine.precompile(convKernels(engine.tuning));
  return engine;
}

type Padding = NonNullable<Conv2dOptions['padding']>;

interface ConvCase {
  /** x [N, Cin, H, W] */
  x: number[];
  cout: number;
  k: number | [number, number];
  stride: number;
  padding: Padding;
}

const kernelShape = (k: ConvCase['k']) => (typeof k === 'number' ? [k, k] : k);
const caseName = (c: ConvCase) => `conv [${c.x}]→${c.cout} k${kernelShape(c.k).join('×')} s${c.stride} p${c.padding}`;

// Every kernel size, stride and padding shape, odd sizes, channel counts off the 4-channel blocks, batch 1 and 3.
const FORWARD_CASES: ConvCase[] = [
  { x: [1, 1, 7, 7], cout: 3, k: 3, stride: 1, padding: 1 },
  { x: [3, 3, 13, 13], cout: 10, k: 3, stride: 1, padding: 1 },
  { x: [1, 10, 28, 28], cout: 20, k: 3, stride: 2, padding: 1 },
  { x: [3, 20, 13, 7], cout: 1, k: 3, stride: 2, padding: 0 },
  { x: [3, 3, 7, 13], cout: 20, k: 1, stride: 1, padding: 0 },
  { x: [1, 20, 13, 13], cout: 10, k: 1, stride: 2, padding: 0 },
  { x: [3, 10, 14, 14], cout: 3, k: 2, stride: 2, padding: 0 },
  { x: [1, 3, 13, 7], cout: 10, k: 2, stride: 1, padding: 1 },
  { x: [3, 1, 28, 28], cout: 20, k: 3, stride: 1, padding: 2 },
  { x: [1, 10, 13, 13], cout: 3, k: 3, stride: 2, padding: [0, 1, 1, 0] },
  { x: [3, 3, 13, 7], cout: 10, k: 3, stride: 1, padding: [2, 0, 0, 1] },
  { x: [1, 3, 13, 13], cout: 10, k: [2, 3], stride: 1, padding: 1 },
  { x: [3, 10, 13, 13], cout: 20, k: 5, stride: 2, padding: 2 },
];

const ACTIVATIONS = ['none', 'relu', 'silu'] as const;
const activationRef = (act: (typeof ACTIVATIONS)[number]) => (act === 'none' ? (v: number) => v : unary[act].f);

function convInputs(c: ConvCase): { x: Nd; w: Nd; b: Nd } {
  const [kh, kw] = kernelShape(c.k);
  return { x: randomNd(random, c.x), w: randomNd(random, [c.cout, c.x[1], kh, kw], 0.5), b: randomNd(random, [c.cout]) };
}

test('conv2d forward matches float64: kernels 1-5, strides 1 and 2, paddings, odd sizes, bias, activations', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const c of FORWARD_CASES) {
    const { x, w, b } = convInputs(c);
    const opts = { stride: c.stride, padding: c.padding };
    const [xt, wt, bt] = [x, w, b].map((v) => upload(engine, v));
    for (const withBias of [false, true]) {
      const pre = ref.conv2d(x, w, withBias ? b : undefined, opts);
      for (const act of ACTIVATIONS) {
        const out = conv2d(xt, wt, withBias ? bt : undefined, { ...opts, activation: act });
        assert.equal([...out.shape], pre.shape, `${caseName(c)}: shape`);
        assertClose(`${caseName(c)}${withBias ? ' +bias' : ''} ${act}`, await out.read(), map(pre, activationRef(act)).data, 1e-4);
        out.dispose();
      }
    }
    for (const t of [xt, wt, bt]) t.dispose();
  }
});

const GRAD_CASES: ConvCase[] = [
  { x: [1, 3, 7, 7], cout: 10, k: 3, stride: 1, padding: 1 },
  { x: [3, 10, 13, 13], cout: 20, k: 3, stride: 1, padding: 1 },
  // 100 weight-gradient invocations: two workgroups, each summing two batch slices.
  { x: [2, 20, 13, 13], cout: 20, k: 3, stride: 1, padding: 1 },
  { x: [3, 20, 13, 7], cout: 3, k: 3, stride: 2, padding: 1 },
  { x: [1, 10, 28, 28], cout: 10, k: 3, stride: 2, padding: [0, 1, 1, 0] },
  { x: [3, 3, 13, 13], cout: 20, k: 1, stride: 1, padding: 0 },
  { x: [1, 20, 14, 14], cout: 3, k: 2, stride: 2, padding: 0 },
  { x: [3, 1, 13, 7], cout: 3, k: [2, 3], stride: 2, padding: 2 },
];

test('conv2d gradients w.r.t. x, weight and bias match float64', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const c of GRAD_CASES) {
    const { x, w, b } = convInputs(c);
    const opts = { stride: c.stride, padding: c.padding };
    const pre = ref.conv2d(x, w, b, opts);
    const g = randomNd(random, pre.shape);
    const { dx, dw, db } = ref.conv2dBackward(x, w, g, opts);
    await checkGrads(engine, caseName(c), [x, w, b], ([xt, wt, bt]) => conv2d(xt, wt, bt, opts), g, [dx, dw, db], 1e-4);
    await checkGrads(engine, `${caseName(c)} no bias`, [x, w], ([xt, wt]) => conv2d(xt, wt, undefined, opts), g, [dx, dw], 1e-4);
    // With an activation the recorded graph is conv then activation: chain the reference through it.
    const silu = unary.silu;
    const gPre = nd(g.shape, g.data.map((v, i) => v * silu.df(pre.data[i])));
    const chained = ref.conv2dBackward(x, w, gPre, opts);
    await checkGrads(engine, `${caseName(c)} silu`, [x, w, b], ([xt, wt, bt]) => conv2d(xt, wt, bt, { ...opts, activation: 'silu' }), g, [chained.dx, chained.dw, chained.db], 1e-4);
  }
});

interface TransposeCase {
  x: number[];
  cout: number;
  k: number;
  opts: ConvTranspose2dOptions;
  /** Expected output height and width. */
  out: [number, number];
}

const TRANSPOSE_CASES: TransposeCase[] = [
  { x: [3, 20, 3, 3], cout: 10, k: 2, opts: { stride: 2 }, out: [6, 6] },
  { x: [1, 10, 7, 7], cout: 3, k: 2, opts: { stride: 2 }, out: [14, 14] },
  { x: [3, 3, 14, 14], cout: 1, k: 2, opts: { stride: 2 }, out: [28, 28] },
  { x: [3, 10, 7, 7], cout: 20, k: 3, opts: { stride: 2, padding: 1, outputPadding: 1 }, out: [14, 14] },
  { x: [1, 3, 13, 7], cout: 10, k: 3, opts: { stride: 1, padding: 1 }, out: [13, 7] },
  { x: [3, 10, 7, 13], cout: 3, k: 3, opts: { stride: 2 }, out: [15, 27] },
  { x: [1, 20, 6, 6], cout: 3, k: 4, opts: { stride: 2, padding: 1 }, out: [12, 12] },
  { x: [3, 3, 7, 7], cout: 10, k: 5, opts: { stride: 1, padding: 3 }, out: [5, 5] },
  { x: [3, 3, 7, 7], cout: 10, k: 3, opts: { stride: 1, padding: 3 }, out: [3, 3] },
  { x: [1, 3, 7, 5], cout: 4, k: 2, opts: { stride: 2, padding: 2 }, out: [10, 6] },
];

const transposeName = (c: TransposeCase) => `convTranspose [${c.x}]→${c.cout} k${c.k} ${JSON.stringify(c.opts)}`;

test('convTranspose2d forward and gradients match float64 (k2 s2 3→6, 7→14, 14→28; k3 s2 p1 op1; others)', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const c of TRANSPOSE_CASES) {
    const x = randomNd(random, c.x), w = randomNd(random, [c.x[1], c.cout, c.k, c.k], 0.5), b = randomNd(random, [c.cout]);
    const expected = ref.convTranspose2d(x, w, b, c.opts);
    assert.equal(expected.shape.slice(2), c.out, `${transposeName(c)}: reference shape`);
    const [xt, wt, bt] = [x, w, b].map((v) => upload(engine, v));
    const out = convTranspose2d(xt, wt, bt, c.opts);
    assert.equal([...out.shape], expected.shape, `${transposeName(c)}: shape`);
    assertClose(`${transposeName(c)} +bias`, await out.read(), expected.data, 1e-4);
    const noBias = convTranspose2d(xt, wt, undefined, c.opts);
    assertClose(`${transposeName(c)}`, await noBias.read(), ref.convTranspose2d(x, w, undefined, c.opts).data, 1e-4);
    for (const t of [xt, wt, bt, out, noBias]) t.dispose();
    const g = randomNd(random, expected.shape);
    const { dx, dw, db } = ref.convTranspose2dBackward(x, w, g, c.opts);
    await checkGrads(engine, transposeName(c), [x, w, b], ([xt2, wt2, bt2]) => convTranspose2d(xt2, wt2, bt2, c.opts), g, [dx, dw, db], 1e-4);
  }
});

/** GPU gradients of sum(f(inputs) ⊙ g) vs central differences of the float64 reference at a few indices of every input. */
async function checkFiniteDiff(engine: Engine, name: string, inputs: Nd[], f: (ts: Tensor[]) => Tensor, reference: (xs: Nd[]) => Nd): Promise<void> {
  const g = randomNd(random, reference(inputs).shape);
  const loss = (xs: Nd[]) => reference(xs).data.reduce((s, v, i) => s + v * g.data[i], 0);
  const ts = inputs.map((x) => upload(engine, x));
  const gt = upload(engine, g);
  const { value, grads } = valueAndGrad(engine, () => sum(mul(f(ts), gt)), ts);
  for (let j = 0; j < inputs.length; j++) {
    const n = inputs[j].data.length;
    const idx = [...new Set([0, 1, Math.floor(n / 3), Math.floor(n / 2), n - 2, n - 1])];
    const fd = finiteDiff((d) => loss(inputs.map((x, k) => (k === j ? nd(x.shape, d) : x))), inputs[j].data, idx);
    const got = await grads[j].read();
    assertClose(`${name} d/d input ${j} vs finite differences`, idx.map((i) => got[i]), fd, 1e-3, 1e-1);
  }
  for (const t of [...ts, gt, value, ...grads]) t.dispose();
}

test('gradients match finite differences of the float64 reference on tiny shapes', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  for (const c of [
    { x: [2, 3, 5, 5], cout: 2, k: 3, stride: 1, padding: 1 },
    { x: [1, 2, 6, 5], cout: 3, k: 3, stride: 2, padding: [1, 0, 0, 1] },
  ] as ConvCase[]) {
    const { x, w, b } = convInputs(c);
    const opts = { stride: c.stride, padding: c.padding };
    for (const act of ['none', 'relu'] as const) {
      await checkFiniteDiff(engine, `${caseName(c)} ${act}`, [x, w, b], ([xt, wt, bt]) => conv2d(xt, wt, bt, { ...opts, activation: act }), ([xv, wv, bv]) =>
        map(ref.conv2d(xv, wv, bv, opts), activationRef(act)),
      );
    }
  }
  const x = randomNd(random, [2, 3, 3, 4]), w = randomNd(random, [3, 2, 3, 3]), b = randomNd(random, [2]);
  const opts = { stride: 2, padding: 1, outputPadding: 1 };
  await checkFiniteDiff(engine, 'convTranspose [2,3,3,4]→2 k3 s2 p1 op1', [x, w, b], ([xt, wt, bt]) => convTranspose2d(xt, wt, bt, opts), ([xv, wv, bv]) =>
    ref.convTranspose2d(xv, wv, bv, opts),
  );
});

test('shape errors are reported', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  engine.scope(() => {
    const x = upload(engine, randomNd(random, [1, 3, 5, 5]));
    const weight = (shape: number[]) => upload(engine, randomNd(random, shape));
    assert.throws(() => conv2d(x, weight([4, 2, 3, 3])), /3 channels/);
    assert.throws(() => conv2d(x, weight([4, 3, 7, 7])), /does not fit/);
    assert.throws(() => convTranspose2d(x, weight([3, 2, 2, 2]), undefined, { stride: 2, outputPadding: 2 }), /outputPadding/);
    assert.throws(() => conv2d(x, weight([4, 3, 3, 3]), weight([3])), /bias/);
  });
});

test('the checks can fail: a wrong weight layout is caught', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const x = randomNd(random, [1, 3, 7, 7]), w = randomNd(random, [4, 3, 3, 3]);
  // Swapping the kernel's rows and columns must not pass.
  const swapped = nd(w.shape, w.data.map((_, i) => w.data[i - (i % 9) + ((i % 9) % 3) * 3 + Math.floor((i % 9) / 3)]));
  const [xt, wt] = [x, swapped].map((v) => upload(engine, v));
  const out = conv2d(xt, wt, undefined, { padding: 1 });
  const { maxRel } = compare(await out.read(), ref.conv2d(x, w, undefined, { padding: 1 }).data);
  for (const t of [xt, wt, out]) t.dispose();
  console.log(`    deliberately wrong weight: maxRel ${maxRel.toExponential(2)} (must exceed the 1e-4 tolerance)`);
  assert.ok(maxRel > 1e-4);
});

test('repeated conv forward + backward returns the pool to its starting live bytes', async () => {
  const engine = await engineWithKernels();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [2, 3, 13, 13]));
  const w = upload(engine, randomNd(random, [8, 3, 3, 3]));
  const wt = upload(engine, randomNd(random, [8, 4, 2, 2]));
  const step = () => {
    const { value, grads } = valueAndGrad(engine, () => sum(convTranspose2d(conv2d(x, w, undefined, { stride: 2, padding: 1, activation: 'relu' }), wt, undefined, { stride: 2 })), [x, w, wt]);
    value.dispose();
    grads.forEach((g) => g.dispose());
  };
  // Warm up over a whole cycle of submit boundaries (64 dispatches) against the step's dispatch count.
  for (let i = 0; i < 100; i++) step();
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 200; i++) step();
  await engine.sync();
  const after = engine.stats();
  console.log(`    live bytes ${before.liveBytes} → ${after.liveBytes}, live tensors ${before.liveTensors} → ${after.liveTensors}, dispatches ${after.dispatches - before.dispatches}`);
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(after.allocations, before.allocations, 'a warm pool allocates nothing new');
});

test.run();
