// Pool rows for `purify bench --pool`: purification throughput (images/s) of the worker pool with
// 1, 2 and 4 threads on the same batch. Each row starts a fresh pool, waits until every thread is
// warm, runs the batch once untimed, then reports the median of the timed runs.
// Standalone: node --import tsx tools/bench/pool.ts [--images N] [--tstar T] [--adapters A,B]
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadDataset } from '../../engine/data/datasets.ts';
import { createPool } from '../../workers/pool.ts';
import { formatTable, type BenchRecord } from './measure.ts';

export interface PoolBenchOptions {
  /** Thread counts, one row each (spread evenly over the adapters). */
  workers?: number[];
  images?: number;
  tStar?: number;
  adapters?: string[];
  repeats?: number;
  onRow?: (record: BenchRecord) => void;
}

export async function poolBenchRecords(options: PoolBenchOptions = {}): Promise<BenchRecord[]> {
  const { workers = [1, 2, 4], images = 16, tStar = 10, adapters, repeats = 3 } = options;
  const batch = loadDataset('mnist', 'test', { limit: images }).images;
  const records: BenchRecord[] = [];
  for (const threads of workers) {
    const perAdapter = Math.max(1, Math.round(threads / (adapters?.length ?? 1)));
    const pool = createPool({ adapters, workersPerAdapter: perAdapter });
    try {
      const [first] = await pool.ready();
      const run = async () => {
        const started = performance.now();
        await pool.purify(batch, [images, 1, 28, 28], { method: 'diffpure', tStar, seed: 0 });
        return performance.now() - started;
      };
      await run();
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) times.push(await run());
      times.sort((a, b) => a - b);
      const ms = times[Math.floor(times.length / 2)];
      const record: BenchRecord = {
        adapter: adapters?.length ? adapters.join(' + ') : first.adapter,
        op: `pool ${pool.threads} worker${pool.threads === 1 ? '' : 's'}`,
        shape: `${images}×1×28×28, diffpure t*=${tStar}`,
        ms,
        gpuMs: null,
        gflops: null,
        imagesPerSec: (images * 1000) / ms,
        repeats,
      };
      records.push(record);
      options.onRow?.(record);
    } finally {
      await pool.close();
    }
  }
  return records;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { images: { type: 'string', default: '16' }, tstar: { type: 'string', default: '10' }, adapters: { type: 'string' }, repeats: { type: 'string', default: '3' } } });
  const records = await poolBenchRecords({
    images: Number(values.images),
    tStar: Number(values.tstar),
    adapters: values.adapters?.split(','),
    repeats: Number(values.repeats),
    onRow: (r) => console.error(`${r.op}: ${r.imagesPerSec!.toFixed(2)} images/s`),
  });
  console.log(formatTable(records));
  process.exit(0);
}
