// Higher-order autograd over the op table: valueAndGrad nested inside valueAndGrad (PyTorch's
// create_graph). For each case with a backward, S(x, g) = Σ_j ⟨∇_{x_j}⟨op(x), g⟩, gg_j⟩ is the
// gradient pairing an outer tape differentiates; its GPU derivatives in every differentiated input
// and in g are checked against float64 central differences of S built from the reference
// backward (itself checked against the reference forward by the op table). Every op family either
// passes or is on the first-order list, where the nested call must throw rather than return a
// gradient missing its own dependence on the inputs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad, type Engine, type Tensor } from '../../engine/index.ts';
import { add, mul, sum } from '../../engine/ops/index.ts';
import { recordDifferentiable } from '../../engine/autograd.ts';
import { unaryBackward } from '../../engine/ops/unary.ts';
import { nd, type Nd } from '../../engine/reference/nd.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';
import type { OpCase } from '../helpers/op-case.ts';
import { caseRandom, replayCommand, testSeed } from '../helpers/seed.ts';
import { OP_TABLE } from './cases/table.ts';
import { UNARY_CASES } from './cases/unary.ts';

const seed = testSeed();

/** Families whose backward launches raw kernels: differentiating their gradient must throw. */
const FIRST_ORDER_ONLY = new Set([
  'softmax', 'scaledSoftmax', 'attention', 'crossEntropy', 'diffusionStep', 'batchNormInference', 'layerNormCHW', 'groupNorm',
  'groupNorm+silu', 'timestepEmbedding', 'concatChannels', 'padChannels', 'pad2d', 'crop2d', 'sliceChannels', 'subsample2x',
]);

/** Small cases only: the float64 differences re-run the reference backward twice per sampled element. */
const MAX_ELEMENTS = 4096;
const FD_STEP = 1e-5;
/** Elements sampled per differentiated tensor. */
const SAMPLES = 8;
/**
 * f32 second-order results are chains of kernels each within ~1e-6 of float64; differences of a
 * float64 S at h = 1e-5 are exact to ~1e-10. 1e-4 of the largest derivative passes every correct
 * composition and fails a dropped or wrong term (see the self-test below).
 */
const TOL = 1e-4;

const pairing = (grads: Nd[], gg: Nd[]) => grads.reduce((s, gr, j) => s + gr.data.reduce((a, v, i) => a + v * gg[j].data[i], 0), 0);
/** The central difference of a value taken at +FD_STEP and at −FD_STEP. */
const centralDifference = (up: number, down: number) => (up - down) / (2 * FD_STEP);
const perturbed = (x: Nd, i: number, d: number) => nd(x.shape, Float64Array.from(x.data, (v, q) => (q === i ? v + d : v)));

interface Outcome {
  /** max |GPU − float64 differences| over the sampled elements of each tensor, in the largest of check()'s units. */
  errors: { label: string; err: number }[];
}

/** The reference gradients ∇_{x_j}⟨op(x), g⟩ (j in wrt) whose pairing with gg is S. */
type Grads = (xs: Nd[], g: Nd) => Nd[];
type Differentiate = (engine: Engine, c: OpCase) => Promise<{ gpu: Float32Array[]; inputs: Nd[]; wrt: number[]; g: Nd; gg: Nd[]; grads: Grads }>;

/** The GPU's ∂S/∂x_k (k in wrt) and ∂S/∂g through a nested valueAndGrad. */
const differentiate: Differentiate = async (engine, c) => {
  const random = caseRandom(seed, `second order ${c.name}`);
  const inst = c.make(random);
  const wrt = inst.wrt ?? inst.inputs.map((_, i) => i);
  const y = inst.ref(inst.inputs);
  const g = randomNd(random, y.shape);
  const gg = wrt.map((k) => randomNd(random, inst.inputs[k].shape));
  const gpu = await engine.scopeAsync(async () => {
    const ts = inst.inputs.map((x) => upload(engine, x));
    const gT = upload(engine, g);
    const ggT = gg.map((v) => upload(engine, v));
    const outer = valueAndGrad(
      engine,
      () => {
        const inner = valueAndGrad(engine, () => inst.gpu(ts, engine), wrt.map((k) => ts[k]), gT);
        return inner.grads.map((gr, j) => sum(mul(gr, ggT[j]))).reduce((a, b) => add(a, b));
      },
      [...wrt.map((k) => ts[k]), gT],
    );
    return Promise.all(outer.grads.map((t) => t.read()));
  });
  return { gpu, inputs: inst.inputs, wrt, g, gg, grads: inst.refGrads! };
};

async function check(engine: Engine, c: OpCase, tamper = (x: Float32Array) => x): Promise<Outcome> {
  const { gpu, inputs, wrt, g, gg, grads } = await differentiate(engine, c);
  const maxAbs = (a: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
    return m;
  };
  // Three units in which f32 rounding shows, and the error is measured against the largest:
  // - the largest derivative itself;
  // - 1 % of |g|·|gg|, the natural unit of a second derivative. Where a log-softmax row nearly
  //   saturates (|x| ~ 80) the true derivatives are ~ε = 1 − p_max, but f32 forms them as
  //   differences like gg_i − ⟨gg, p⟩, exact only to ~u·|gg| (u = 2⁻²⁴) whatever ε is;
  // - the sum of absolute terms Σ_i |∂(∇x)_i|·|gg_i| that forms a derivative: a derivative that is
  //   a sum of many terms of both signs (mseLoss's ∂S/∂g sums 420) is exact only to ~u per term.
  // A wrong or dropped term is of the order of those units, not of u's, so it still shows.
  const floor = 1e-2 * maxAbs(g.data) * Math.max(...gg.map((v) => maxAbs(v.data)));
  const random = caseRandom(seed, `second order samples ${c.name}`);
  const tensors = [
    ...wrt.map((k) => ({ label: `∂S/∂input ${k}`, x: inputs[k], at: (v: Nd) => grads(inputs.map((u, m) => (m === k ? v : u)), g) })),
    { label: '∂S/∂g', x: g, at: (v: Nd) => grads(inputs, v) },
  ];
  const errors = tensors.map(({ label, x, at }, j) => {
    const got = tamper(gpu[j]);
    const n = x.data.length;
    if (!n) return { label, err: 0 };
    const idx = [...new Set([0, n - 1, ...Array.from({ length: SAMPLES - 2 }, () => Math.floor(random() * n))])];
    let worst = 0;
    let terms = 0;
    for (const i of idx) {
      const [up, down] = [at(perturbed(x, i, FD_STEP)), at(perturbed(x, i, -FD_STEP))];
      worst = Math.max(worst, Math.abs(got[i] - centralDifference(pairing(up, gg), pairing(down, gg))));
      terms = Math.max(terms, up.reduce((s, u, q) => s + u.data.reduce((a, v, m) => a + Math.abs(centralDifference(v, down[q].data[m]) * gg[q].data[m]), 0), 0));
    }
    const scale = Math.max(maxAbs(got), floor, terms);
    return { label, err: scale > 0 ? worst / scale : worst };
  });
  return { errors };
}

const small = (c: OpCase) => {
  const inst = c.make(caseRandom(seed, c.name));
  return !!inst.refGrads && inst.finiteDiff !== false && inst.inputs.every((x) => x.data.length <= MAX_ELEMENTS);
};
const CASES = OP_TABLE.filter(small);

for (const c of CASES) {
  test(`second order: ${c.name}`, async () => {
    const engine = await getEngine();
    if (!engine) return;
    if (FIRST_ORDER_ONLY.has(c.op)) {
      const error = await differentiate(engine, c).then(() => null, (e: Error) => e);
      assert.match(String(error?.message), /cannot be differentiated again/, `${c.name}: a first-order op must refuse a second differentiation`);
      return;
    }
    const { errors } = await check(engine, c);
    console.log(`    ${c.name}: ${errors.map((e) => `${e.label} ${e.err.toExponential(1)}`).join(';  ')}`);
    const bad = errors.filter((e) => !(e.err <= TOL));
    if (bad.length) assert.unreachable(`${c.name}: ${bad.map((e) => `${e.label} error ${e.err} > ${TOL}`).join(', ')}\n  replay: ${replayCommand(seed)}`);
  });
}

test('every twice-differentiable family is checked on some case', () => {
  const families = new Set(CASES.map((c) => c.op).filter((op) => !FIRST_ORDER_ONLY.has(op)));
  for (const op of ['conv2d', 'convTranspose2d', 'linear', 'matmul', 'silu', 'relu', 'square', 'logSoftmax', 'gatherColumns', 'maxPool2x2', 'avgPool2x2', 'sum', 'mean', 'mul', 'div']) {
    assert.ok(families.has(op), `${op} has no small second-order case`);
  }
});

test('self-test: a gradient 0.1 % off, or one dropping f″, fails the second-order check', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const silu = UNARY_CASES.find((c) => c.op === 'silu' && c.name.includes('[2,3,17]'))!;
  const off = await check(engine, silu, (x) => x.map((v) => v * 1.001));
  assert.ok(off.errors.some((e) => e.err > TOL), 'a perturbed second-order gradient passed');
  // SiLU whose backward is recorded but treats f′(x) as a constant: the held-constant mistake.
  const heldSilu: OpCase = {
    ...silu,
    name: `${silu.name} with f′ held`,
    make: (random) => {
      const inst = silu.make(random);
      return { ...inst, gpu: ([t]) => recordDifferentiable('silu_held', [t], inst.gpu([t], engine), (gOut) => [heldBackward(t, gOut)]) };
    },
  };
  const held = await check(engine, heldSilu);
  assert.ok(held.errors.some((e) => e.err > TOL), 'a gradient with f″ dropped passed');
});

/** SiLU's gradient g·f′(x) with f′(x) computed outside the tape: its x-dependence is invisible. */
function heldBackward(x: Tensor, g: Tensor): Tensor {
  const engine = x.engine;
  const tape = engine.tape;
  engine.tape = null;
  const slope = unaryBackward('SILU', x, upload(engine, nd([...x.shape], new Float64Array(x.size).fill(1))));
  engine.tape = tape;
  return mul(g, slope);
}

test.run();
