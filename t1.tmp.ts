import { Engine } from './engine/index.ts';
import { precompileAll, fromArray } from './engine/ops/index.ts';
import { loadDenoiser } from './engine/models/catalog.ts';
import { purify } from './engine/purify/purifier.ts';
import { loadDataset } from './engine/data/datasets.ts';
const t0 = performance.now();
const engine = await Engine.create({adapter: process.argv[2]});
console.log(engine.describe());
await precompileAll(engine);
console.log('compile', performance.now()-t0, engine.stats().pipelines);
const d = await loadDenoiser(engine);
const data = loadDataset('mnist','test',{limit:8});
for (const n of [4, 8]) {
const x = fromArray(engine, data.images.subarray(0, n*784), [n,1,28,28]);
const t1 = performance.now();
const y = await purify(d, x, {method:'diffpure', tStar: 10, seed: 1});
const r = await y.read();
console.log(n, 'purify', performance.now()-t1, r[100], engine.stats().lateCompiles);
}
process.exit(0);
