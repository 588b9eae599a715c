// Kernel profile of one denoiser step: GPU time per op from per-dispatch timestamp queries.
// Usage: node --import tsx tools/profile.ts [batch]
import { Engine, precompileAll } from '../engine/index.ts';
import { loadDenoiser } from '../engine/models/catalog.ts';
import { randomTensor } from './bench/cases.ts';

const batch = Number(process.argv[2] ?? 10);
const engine = await Engine.create();
await precompileAll(engine);
const model = await loadDenoiser(engine);
const x = engine.keep(randomTensor(engine, [batch, ...model.imageShape]));
engine.scope(() => void model.predictEps(x, new Array(batch).fill(50)));
await engine.sync();
const profile = await engine.profileOps(() => engine.scope(() => void model.predictEps(x, new Array(batch).fill(50))));
if (!profile) throw new Error('this adapter has no timestamp queries');
const rows = [...profile].sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((a, [, v]) => a + v.ms, 0);
console.log(`${engine.gpu.adapterName}: ${model.name} step, batch ${batch}: ${total.toFixed(1)} ms GPU in ${rows.reduce((a, [, v]) => a + v.count, 0)} dispatches`);
for (const [op, v] of rows) console.log(`  ${op.padEnd(28)} ${String(v.count).padStart(4)}×  ${v.ms.toFixed(2).padStart(8)} ms  ${((100 * v.ms) / total).toFixed(1).padStart(5)} %`);
process.exit(0);
