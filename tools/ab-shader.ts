// Before/after for a shader edit, side by side in one process: each round builds one Engine on the
// old text of shaders/NAME.wgsl (from a git revision) and one on the working tree's, alternating,
// and times the Franfee MNIST step (forward, and forward + input gradient) and its per-op GPU ms.
// Alternating rounds in one process keeps load and thermal drift out of the comparison; the outputs
// of both versions are compared too, so a speedup that changes the numbers shows. Only for edits
// confined to the .wgsl file: both versions run under the working tree's descriptors (an edit that
// changes the dispatch as well needs two checkouts; the output comparison shows the mismatch).
// With --tunings A,B it compares two kernel tunings (engine/ops/tuning.ts variants) on the working
// tree instead, the same way: a variant choice is measured like a shader edit.
// Usage: node --import tsx tools/ab-shader.ts NAME [--rev HEAD] [--batch 64] [--rounds 3]
//        node --import tsx tools/ab-shader.ts --tunings software,gpu [--adapter SwiftShader] [--batch 8]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Engine, precompileAll } from '../engine/index.ts';
import { loadDenoiser } from '../engine/models/catalog.ts';
import { registerShaderSources } from '../engine/shader-source.ts';
import { denoiserStep } from './bench/cases.ts';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    rev: { type: 'string', default: 'HEAD' },
    batch: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    tunings: { type: 'string' },
    adapter: { type: 'string' },
  },
});
const name = positionals[0];
if (!name && !values.tunings) throw new Error('usage: tools/ab-shader.ts NAME [--rev HEAD] [--batch 64] [--rounds 3] | --tunings A,B');
interface Version { label: string; text?: string; tuning?: string }
const versions: Version[] = values.tunings
  ? values.tunings.split(',').map((tuning) => ({ label: tuning, tuning }))
  : [
      { label: `${values.rev}`, text: execFileSync('git', ['show', `${values.rev}:shaders/${name}.wgsl`], { encoding: 'utf8' }) },
      { label: 'working tree', text: readFileSync(new URL(`../shaders/${name}.wgsl`, import.meta.url), 'utf8') },
    ];
if (versions.length !== 2) throw new Error('--tunings takes two variant names, e.g. software,gpu');
const batch = Number(values.batch);

async function timeOnce(engine: Engine, run: () => void): Promise<number> {
  await engine.sync();
  const t0 = performance.now();
  engine.scope(run);
  await engine.sync();
  return performance.now() - t0;
}

const results = versions.map(() => ({ step: [] as number[], grad: [] as number[], ops: new Map<string, number>(), out: null as Float32Array | null }));
const what = values.tunings ? `tunings ${versions[0].label} vs ${versions[1].label}` : `shader ${name}: ${versions[0].label} vs working tree`;
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [i, version] of versions.entries()) {
    if (version.text !== undefined) registerShaderSources({ [name]: version.text });
    const engine = await Engine.create({ tuning: version.tuning, adapter: values.adapter });
    if (round === 0 && i === 0) console.log(`${what}, Franfee step batch ${batch}, ${engine.gpu.adapterName}, load average ${loadavg()[0].toFixed(2)}`);
    await precompileAll(engine);
    const denoise = denoiserStep(engine, await loadDenoiser(engine), batch);
    const step = () => void denoise.forward();
    const grad = denoise.withInputGradient;
    await timeOnce(engine, step);
    await timeOnce(engine, grad);
    const r = results[i];
    r.step.push(await timeOnce(engine, step));
    r.grad.push(await timeOnce(engine, grad));
    const profile = await engine.profileOps(() => engine.scope(step));
    for (const [op, v] of profile ?? []) r.ops.set(op, (r.ops.get(op) ?? 0) + v.ms / Number(values.rounds));
    r.out ??= await engine.scope(denoise.forward).read();
    engine.destroy();
  }
}
const range = (v: number[]) => `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}`;
console.log(`| version | step ms | step + input gradient ms |\n|---|---|---|`);
versions.forEach((v, i) => console.log(`| ${v.label} | ${range(results[i].step)} | ${range(results[i].grad)} |`));
const ops = [...new Set(results.flatMap((r) => [...r.ops.keys()]))].sort((a, b) => (results[0].ops.get(b) ?? 0) - (results[0].ops.get(a) ?? 0));
console.log(`\n| op (GPU ms, mean) | ${versions.map((v) => v.label).join(' | ')} |\n|---|---|---|`);
for (const op of ops) console.log(`| ${op} | ${results.map((r) => (r.ops.get(op) ?? 0).toFixed(1)).join(' | ')} |`);
const [a, b] = results.map((r) => r.out!);
let maxAbs = 0;
for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
console.log(`\noutputs: max abs difference ${maxAbs.toExponential(2)} over ${a.length} values`);
process.exit(0);
