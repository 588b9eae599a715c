// Stress run of the op-test table (not part of npm test): every case on every kernel variant over
// many seeds in one process and one engine per variant, reporting per op the worst normalised
// error ‖y − ref‖/‖ref‖, the worst use of the error bound, and the failures with their replay seeds.
// Usage: node --import tsx tools/stress-ops.ts [--seeds 200] [--from 1] [--filter TEXT] [--json FILE]
//        node --import tsx tools/stress-ops.ts --merge A.json B.json ...   (combines chunked runs)
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getEngines } from '../test/helpers/gpu.ts';
import { prepare, runOnEngine } from '../test/helpers/op-harness.ts';
import { OP_TABLE } from '../test/ops/cases/table.ts';

interface OpStats {
  checks: number;
  worstNormErr: number;
  worstNormErrAt: string;
  worstBoundUse: number;
  worstBoundUseAt: string;
  failures: string[];
}

interface Summary {
  seeds: number[];
  ops: Record<string, OpStats>;
}

const { values, positionals } = parseArgs({
  options: { seeds: { type: 'string', default: '200' }, from: { type: 'string', default: '1' }, filter: { type: 'string' }, json: { type: 'string' }, merge: { type: 'boolean' } },
  allowPositionals: true,
});

const emptyStats = (): OpStats => ({ checks: 0, worstNormErr: 0, worstNormErrAt: '', worstBoundUse: 0, worstBoundUseAt: '', failures: [] });

function print(s: Summary): void {
  const failures = Object.values(s.ops).reduce((n, o) => n + o.failures.length, 0);
  console.log(`\n${s.seeds.length} seeds (${Math.min(...s.seeds)}…${Math.max(...s.seeds)}), ${Object.keys(s.ops).length} ops`);
  console.log(`${'op'.padEnd(20)} ${'checks'.padStart(8)}  ${'worst ‖e‖/‖r‖'.padStart(14)}  ${'worst bound use'.padStart(15)}  failures`);
  for (const [op, o] of Object.entries(s.ops).sort()) {
    console.log(`${op.padEnd(20)} ${String(o.checks).padStart(8)}  ${o.worstNormErr.toExponential(2).padStart(14)}  ${`${(100 * o.worstBoundUse).toFixed(1)} %`.padStart(15)}  ${o.failures.length}`);
  }
  console.log('\nwhere the worst values occurred:');
  for (const [op, o] of Object.entries(s.ops).sort()) console.log(`  ${op}: ‖e‖/‖r‖ at ${o.worstNormErrAt || '-'}; bound use at ${o.worstBoundUseAt || '-'}`);
  for (const f of Object.values(s.ops).flatMap((o) => o.failures)) console.log(`  FAIL ${f}`);
  console.log(`${failures} failures`);
}

function merge(parts: Summary[]): Summary {
  const out: Summary = { seeds: parts.flatMap((p) => p.seeds), ops: {} };
  for (const p of parts) {
    for (const [op, o] of Object.entries(p.ops)) {
      const m = (out.ops[op] ??= emptyStats());
      m.checks += o.checks;
      if (o.worstNormErr > m.worstNormErr) [m.worstNormErr, m.worstNormErrAt] = [o.worstNormErr, o.worstNormErrAt];
      if (o.worstBoundUse > m.worstBoundUse) [m.worstBoundUse, m.worstBoundUseAt] = [o.worstBoundUse, o.worstBoundUseAt];
      m.failures.push(...o.failures);
    }
  }
  return out;
}

async function stress(): Promise<Summary> {
  const engines = await getEngines();
  if (!engines.length) throw new Error('no WebGPU adapter');
  const cases = OP_TABLE.filter((c) => !values.filter || c.name.includes(values.filter));
  const first = Number(values.from), count = Number(values.seeds);
  const summary: Summary = { seeds: [], ops: {} };
  const started = performance.now();
  for (let seed = first; seed < first + count; seed++) {
    for (const c of cases) {
      const o = (summary.ops[c.op] ??= emptyStats());
      const p = prepare(c, seed);
      const runs = [{ variant: 'float64', results: p.finiteDiff }];
      for (const { variant, engine } of engines) runs.push({ variant, results: await runOnEngine(p, engine) });
      for (const { variant, results } of runs) {
        for (const r of results) {
          o.checks++;
          // Finite differences judge the reference, not the kernel: their error is not the op's.
          const at = `seed ${seed} [${variant}] ${c.name} ${r.label}`;
          if (variant !== 'float64' && r.normErr > o.worstNormErr) [o.worstNormErr, o.worstNormErrAt] = [r.normErr, at];
          if (r.worstRatio > o.worstBoundUse) [o.worstBoundUse, o.worstBoundUseAt] = [r.worstRatio, at];
          if (!r.pass) o.failures.push(`seed ${seed} [${variant}] ${c.name} ${r.failure} (replay: PURIFY_TEST_SEED=${seed} node tools/run-tests.mjs test/ops)`);
        }
      }
    }
    summary.seeds.push(seed);
    const s = (performance.now() - started) / 1000;
    console.log(`seed ${seed} done (${summary.seeds.length}/${count}, ${s.toFixed(0)} s, ${(s / summary.seeds.length).toFixed(1)} s/seed)`);
  }
  return summary;
}

const summary = values.merge ? merge(positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Summary)) : await stress();
if (values.json) writeFileSync(values.json, JSON.stringify(summary));
print(summary);
process.exit(Object.values(summary.ops).some((o) => o.failures.length) ? 1 : 0);
