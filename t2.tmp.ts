import { Engine } from './engine/index.ts';
import { precompileAll, fromArray } from './engine/ops/index.ts';
import { loadDenoiser } from './engine/models/catalog.ts';
import { purify } from './engine/purify/purifier.ts';
import { loadDataset } from './engine/data/datasets.ts';
let t0 = performance.now();
const engine = await Engine.create({adapter: process.argv[2]});
if (process.argv[3] !== 'nopre') await precompileAll(engine);
console.log('compile', performance.now()-t0, engine.stats().pipelines);
const d = await loadDenoiser(engine);
const data = loadDataset('mnist','test',{limit:8});
for (const [n, ts] of [[1,1],[1,3],[2,3]]) {
const x = fromArray(engine, data.images.subarray(0, n*784), [n,1,28,28]);
const t1 = performance.now();
const y = await purify(d, x, {method:'diffpure', tStar: ts, seed: 1});
const r = await y.read();
console.log(n, ts, 'purify', (performance.now()-t1).toFixed(0), engine.stats().lateCompiles, engine.stats().pipelines);
}
process.exit(0);
