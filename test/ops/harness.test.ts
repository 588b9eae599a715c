// The harness can fail: on real GPU results of representative table cases, one ulp more per
// element passes every check, while two swapped elements or one dropped reduction term fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Nd } from '../../engine/reference/nd.ts';
import { getEngines } from '../helpers/gpu.ts';
import { prepare, runOnEngine, type Prepared, type Tamper } from '../helpers/op-harness.ts';
import { replayCommand, testSeed } from '../helpers/seed.ts';
import { CONV_CASES } from './cases/conv.ts';
import { MATMUL_CASES } from './cases/matmul.ts';
import { NORM_CASES } from './cases/norm.ts';
import { REDUCE_CASES } from './cases/reduce.ts';
import { ATTENTION_CASES, SOFTMAX_CASES } from './cases/softmax.ts';

const seed = testSeed();

/** The element of median magnitude: a typical term, neither the largest nor a negligible one. */
function medianIndex(data: ArrayLike<number>, from = 0, to = data.length): number {
  const idx = Array.from({ length: to - from }, (_, i) => from + i).sort((a, b) => Math.abs(data[a]) - Math.abs(data[b]));
  return idx[Math.floor(idx.length / 2)];
}

/** The reference with input `k`'s median element zeroed: every product it enters is dropped from its sums. */
const withoutInputTerm = (k: number) => (p: Prepared): Float64Array => {
  const inputs: Nd[] = p.inst.inputs.map((x, j) => (j === k ? { shape: x.shape, data: Float64Array.from(x.data) } : x));
  inputs[k].data[medianIndex(inputs[k].data)] = 0;
  return p.inst.ref(inputs).data;
};

/** Softmax with the median exp term of row 0 missing from its sum: row 0 scaled by 1/(1 − y_j). */
const withoutSoftmaxTerm = (p: Prepared): Float64Array => {
  const L = p.y.shape[p.y.shape.length - 1];
  const j = medianIndex(p.y.data, 0, L);
  return p.y.data.map((v, i) => (i < L && i !== j ? v / (1 - p.y.data[j]) : i === j ? 0 : v));
};

const SELF_TEST: { name: string; cases: typeof MATMUL_CASES; dropped?: (p: Prepared) => Float64Array }[] = [
  { name: 'matmul [33,65]·[65,17]', cases: MATMUL_CASES, dropped: withoutInputTerm(0) },
  { name: 'conv2d [3,10,13,13]→20 k5×5 s2 p2 +bias none', cases: CONV_CASES, dropped: withoutInputTerm(1) },
  { name: 'sum [2,3,5,7] axes 0,2,3', cases: REDUCE_CASES, dropped: withoutInputTerm(0) },
  { name: 'softmax [4,300] |x| ≤ 3', cases: SOFTMAX_CASES, dropped: withoutSoftmaxTerm },
  { name: 'attention q[2,49,40] k[2,49,40] v[2,49,40] scale 0.700', cases: ATTENTION_CASES, dropped: withoutInputTerm(2) },
  { name: 'groupNorm+silu [2,40,7,7] g8', cases: NORM_CASES },
];

/** One ulp away from zero on every element of every output. */
const oneUlp: Tamper = (_label, got) => {
  const bits = new Int32Array(got.buffer, got.byteOffset, got.length);
  for (let i = 0; i < bits.length; i++) bits[i] += 1;
  return got;
};

/**
 * The two neighbours that differ most, exchanged in the forward output, as an index bug would. (Not
 * "a pair differing by half the scale": a 3-element output, sum [2,3,5,7] over axes 0,2,3, has none
 * at some seeds, e.g. 362881818.)
 */
const swapped = (p: Prepared): Tamper => (label, got) => {
  if (label !== 'forward') return got;
  const y = p.y.data;
  const scale = y.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let i = 0;
  for (let k = 1; k + 1 < y.length; k++) if (Math.abs(y[k] - y[k + 1]) > Math.abs(y[i] - y[i + 1])) i = k;
  assert.ok(Math.abs(y[i] - y[i + 1]) > 1e-3 * scale, `${p.c.name}: every neighbouring pair is nearly equal`);
  [got[i], got[i + 1]] = [got[i + 1], got[i]];
  return got;
};

/** The forward output shifted by exactly what one dropped term changes. */
const droppedTerm = (p: Prepared, dropped: Float64Array): Tamper => (label, got) =>
  label === 'forward' ? Float64Array.from(got, (v, i) => v + (dropped[i] - p.y.data[i])) : got;

for (const entry of SELF_TEST) {
  test(`harness self-test: ${entry.name}`, async () => {
    const engines = await getEngines();
    if (!engines.length) return;
    const c = entry.cases.find((x) => x.name === entry.name);
    assert.ok(c, `no table case named ${entry.name}`);
    const p = prepare(c, seed);
    for (const { variant, engine } of engines) {
      const tampered = async (tamper: Tamper) => {
        const results = await runOnEngine(p, engine, tamper);
        const worst = results.reduce((w, r) => (r.worstRatio > w.worstRatio ? r : w));
        return { pass: results.every((r) => r.pass), worst: `${worst.label} at ${(100 * worst.worstRatio).toPrecision(3)}% of its bound` };
      };
      const ulp = await tampered(oneUlp);
      const swap = await tampered(swapped(p));
      const drop = entry.dropped ? await tampered(droppedTerm(p, entry.dropped(p))) : null;
      console.log(`    [${variant}] ${entry.name}: +1 ulp ${ulp.pass ? 'passes' : 'FAILS'} (${ulp.worst}); swapped pair ${swap.pass ? 'PASSES' : 'fails'} (${swap.worst})` +
        (drop ? `; dropped term ${drop.pass ? 'PASSES' : 'fails'} (${drop.worst})` : ''));
      const replay = `replay: ${replayCommand(seed)}`;
      assert.ok(ulp.pass, `[${variant}] one ulp per element must pass: ${ulp.worst}; ${replay}`);
      assert.ok(!swap.pass, `[${variant}] two swapped elements must fail; ${replay}`);
      assert.ok(!drop?.pass, `[${variant}] a dropped term must fail; ${replay}`);
    }
  });
}

test.run();
