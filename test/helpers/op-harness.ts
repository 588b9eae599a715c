// The one harness for the op-test table: per case, the float64 reference, its backward checked
// against finite differences of its forward, then on every kernel variant the GPU forward and every
// gradient against the reference within the case's per-element bounds, with no tensor or pool
// bytes left behind and no kernel compiled late.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad, type Engine } from '../../engine/index.ts';
import { nd, type Nd } from '../../engine/reference/nd.ts';
import { compareWithBound, describeComparison, describeFailure, type Comparison } from './error-bound.ts';
import { getEngines, type VariantEngine } from './gpu.ts';
import { download, randomNd, upload } from './harness.ts';
import type { Bounds, CaseInstance, OpCase } from './op-case.ts';
import { caseRandom, replayCommand, testSeed } from './seed.ts';

export interface Prepared {
  c: OpCase;
  inst: CaseInstance;
  wrt: number[];
  y: Nd;
  g: Nd;
  grads: Nd[];
  bounds: Bounds;
  /** Reference backward vs central differences of the reference forward. */
  finiteDiff: CheckResult[];
}

export interface CheckResult extends Comparison {
  /** Set when the check failed: what, where, by how much. */
  failure?: string;
}

/** Changes a GPU result before it is compared (the harness self-test's deliberate bugs). */
export type Tamper = (label: string, got: Float32Array) => ArrayLike<number>;

const checked = (label: string, got: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number>): CheckResult => {
  const c = compareWithBound(label, got, ref, bound);
  return c.pass ? c : { ...c, failure: describeFailure(c, got, ref, bound) };
};

const gradLabel = (inputIndex: number) => `d/d input ${inputIndex}`;

/**
 * Central differences of L(x) = ⟨ref(x), g⟩ at the first, last and one random element of each
 * differentiated input. Step h = 1e-5, absolute: softmax curves on the unit scale whatever the
 * inputs' magnitude (it is shift-invariant), so a step relative to |x| = 500 would leave a
 * truncation error h²·|L‴|/6 of ~1e-6. Rounding costs ~1e-16·Σ|ref·g|/h; the bound takes 1e-6 of
 * the input's largest gradient plus that rounding term, far below any wrong term of a reference backward.
 */
const FD_STEP = 1e-5;

function finiteDifferences(inst: CaseInstance, wrt: number[], y: Nd, g: Nd, grads: Nd[], random: () => number): CheckResult[] {
  const loss = (xs: Nd[]) => inst.ref(xs).data.reduce((s, v, i) => s + v * g.data[i], 0);
  const lossMagnitude = y.data.reduce((s, v, i) => s + Math.abs(v * g.data[i]), 0);
  return wrt.map((k, j) => {
    const x = inst.inputs[k];
    const n = x.data.length;
    const idx = [...new Set([0, n - 1, Math.floor(random() * n)])];
    const fd = idx.map((i) => {
      const at = (d: number) => loss(inst.inputs.map((v, m) => (m === k ? nd(v.shape, Float64Array.from(v.data, (e, q) => (q === i ? e + d : e))) : v)));
      return (at(FD_STEP) - at(-FD_STEP)) / (2 * FD_STEP);
    });
    const scale = grads[j].data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const bound = idx.map(() => 1e-6 * scale + (1e-15 * lossMagnitude) / FD_STEP);
    return checked(`finite differences ${gradLabel(k)}`, fd, idx.map((i) => grads[j].data[i]), bound);
  });
}

/**
 * Finite differences re-run the reference forward six times per input: on the big shapes that
 * costs seconds and proves nothing new, since the same reference backward is checked on the op's
 * small shapes.
 */
const FINITE_DIFF_MAX_ELEMENTS = 20_000;

/** Everything float64 about a case at a seed; shared by every variant. */
export function prepare(c: OpCase, seed: number): Prepared {
  const random = caseRandom(seed, c.name);
  const inst = c.make(random);
  const wrt = inst.refGrads ? (inst.wrt ?? inst.inputs.map((_, i) => i)) : [];
  const y = inst.ref(inst.inputs);
  const g = randomNd(random, y.shape);
  const grads = inst.refGrads ? inst.refGrads(inst.inputs, g) : [];
  const bounds = inst.bounds(inst.inputs, { y, g, grads });
  const small = inst.inputs.every((x) => x.data.length <= FINITE_DIFF_MAX_ELEMENTS);
  const fd = inst.refGrads && inst.finiteDiff !== false && small ? finiteDifferences(inst, wrt, y, g, grads, random) : [];
  return { c, inst, wrt, y, g, grads, bounds, finiteDiff: fd };
}

/** GPU forward and gradients on one engine vs the prepared reference; then leaks and late compiles. */
export async function runOnEngine(p: Prepared, engine: Engine, tamper: Tamper = (_, got) => got): Promise<CheckResult[]> {
  await engine.sync();
  const before = engine.stats();
  const ts = p.inst.inputs.map((x) => upload(engine, x));
  const results: CheckResult[] = [];
  // In a scope, like valueAndGrad's, so helper tensors the case creates (label tensors) are freed.
  const out = engine.scope(() => p.inst.gpu(ts, engine));
  const got = await download(out);
  assert.equal(got.shape, p.y.shape, `${p.c.name}: output shape`);
  results.push(checked('forward', tamper('forward', Float32Array.from(got.data)), p.y.data, p.bounds.forward));
  out.dispose();
  if (p.wrt.length) {
    const seedT = upload(engine, p.g);
    const { value, grads } = valueAndGrad(engine, () => p.inst.gpu(ts, engine), p.wrt.map((k) => ts[k]), seedT);
    for (let j = 0; j < grads.length; j++) {
      const label = gradLabel(p.wrt[j]);
      results.push(checked(label, tamper(label, await grads[j].read()), p.grads[j].data, p.bounds.grads[j]));
    }
    for (const t of [seedT, value, ...grads]) t.dispose();
  }
  for (const t of ts) t.dispose();
  await engine.sync();
  const after = engine.stats();
  const leaks = [
    after.liveTensors !== before.liveTensors && `live tensors ${before.liveTensors} → ${after.liveTensors}`,
    after.liveBytes !== before.liveBytes && `live pool bytes ${before.liveBytes} → ${after.liveBytes}`,
    !p.c.compilesLate && after.lateCompiles !== before.lateCompiles && `${after.lateCompiles - before.lateCompiles} kernels compiled late (not in precompileAll)`,
  ].filter(Boolean);
  if (leaks.length) results.push({ label: 'leaks', normErr: 0, worstRatio: Infinity, worstIndex: -1, maxAbs: 0, pass: false, failure: leaks.join(', ') });
  return results;
}

/** Registers one uvu test per case, each run on every kernel variant; prints errors and bound use. */
export function opTable(cases: OpCase[], seed = testSeed()): void {
  const names = new Set<string>();
  for (const c of cases) {
    assert.ok(!names.has(c.name), `duplicate case name ${c.name}`);
    names.add(c.name);
    test(c.name, async () => {
      const engines: VariantEngine[] = await getEngines();
      if (!engines.length) return;
      const p = prepare(c, seed);
      if (p.finiteDiff.length) console.log(`    [float64] ${c.name}: reference backward vs ${p.finiteDiff.map(describeComparison).join(';  ')}`);
      const failures = p.finiteDiff.filter((r) => !r.pass).map((r) => `[float64] ${c.name} ${r.failure}`);
      for (const { variant, engine } of engines) {
        const results = await runOnEngine(p, engine);
        console.log(`    [${variant}] ${c.name}: ${results.map(describeComparison).join(';  ')}`);
        failures.push(...results.filter((r) => !r.pass).map((r) => `[${variant}] ${c.name} ${r.failure}`));
      }
      if (failures.length) assert.unreachable(`${failures.join('\n')}\n  replay: ${replayCommand(seed)}`);
    });
  }
}
