import { createPool } from './workers/pool.ts';
import { loadDataset } from './engine/data/datasets.ts';
const pool = createPool({ workersPerAdapter: 2 });
await pool.ready();
const data = loadDataset('mnist','test',{limit:8});
const ref = await pool.purify(data.images, [8,1,28,28], { method: 'diffpure', tStar: 5, seed: 3 });
for (const kind of ['exit', 'lose-device'] as const) {
  pool.injectFault(kind, 2);
  const t1 = performance.now();
  const out = await pool.purify(data.images, [8,1,28,28], { method: 'diffpure', tStar: 5, seed: 3 }, { onProgress: (p) => console.log(JSON.stringify(p.chunk)) });
  let md = 0; for (let i = 0; i < out.length; i++) md = Math.max(md, Math.abs(out[i]-ref[i]));
  console.log(kind, 'purified', (performance.now()-t1).toFixed(0), 'maxdiff', md);
  console.log(pool.workerStats().map(s => [s.threadId, s.tasks, s.steps, s.engine.liveBytes]));
}
await pool.close();
process.exit(0);
