// Times one benchmark case: warm-up, then the median wall time of repeats (each ends with a full
// GPU sync), plus GPU time from timestamp queries when the adapter has them.
import type { Engine } from '../../engine/index.ts';

export interface BenchCase {
  op: string;
  shape: string;
  /** Floating-point operations per run (for GFLOP/s). */
  flops?: number;
  /** Images processed per run (for images/s). */
  images?: number;
  /** Caps on repeats and warm-up runs for slow cases (model steps on CPU drivers). */
  maxRepeats?: number;
  /** Loads what setup() needs (weights), once, outside the timing. */
  prepare?(engine: Engine): Promise<void>;
  /** Builds inputs once; returns the function to time (with `settle` for work it leaves in a promise) and a cleanup. */
  setup(engine: Engine): { run(): void; settle?(): Promise<unknown>; dispose(): void };
}

export interface BenchRecord {
  adapter: string;
  op: string;
  shape: string;
  ms: number;
  gpuMs: number | null;
  gflops: number | null;
  imagesPerSec: number | null;
  repeats: number;
  /** The engine's kernel variants (engine/ops/tuning.ts); absent on other engines' rows. */
  tuning?: string;
}

export async function measure(engine: Engine, c: BenchCase, requestedRepeats = 7, warmup = 2): Promise<BenchRecord> {
  const repeats = Math.min(requestedRepeats, c.maxRepeats ?? Infinity);
  if (c.maxRepeats !== undefined) warmup = 1;
  const { run, settle, dispose } = c.setup(engine);
  try {
    const once = async () => {
      const t0 = performance.now();
      engine.scope(run);
      await settle?.();
      await engine.sync();
      return performance.now() - t0;
    };
    for (let i = 0; i < warmup; i++) await once();
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) times.push(await once());
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)];
    // A chain awaits between its steps, which one timestamped pass cannot span.
    const gpuMs = settle ? null : await engine.timeGpu(() => engine.scope(run));
    return {
      adapter: engine.gpu.adapterName,
      op: c.op,
      shape: c.shape,
      ms,
      gpuMs,
      gflops: c.flops ? c.flops / (ms * 1e6) : null,
      imagesPerSec: c.images ? (c.images * 1000) / ms : null,
      repeats,
      tuning: engine.tuning.name,
    };
  } finally {
    dispose();
  }
}

/** One decimal, or three significant digits below 1 (a CPU driver's UNet runs at 0.03 images/s). */
const rate = (v: number) => (v >= 1 ? v.toFixed(1) : v.toPrecision(3));

export function formatTable(records: BenchRecord[]): string {
  const rows = [['adapter', 'op', 'shape', 'ms', 'GPU ms', 'GFLOP/s', 'images/s']];
  for (const r of records) {
    rows.push([r.adapter, r.op, r.shape, r.ms.toFixed(2), r.gpuMs === null ? '-' : r.gpuMs.toFixed(2), r.gflops === null ? '-' : r.gflops.toFixed(2), r.imagesPerSec === null ? '-' : rate(r.imagesPerSec)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r, j) => r.map((v, i) => (i >= 3 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ') + (j === 0 ? '\n' + widths.map((w) => '-'.repeat(w)).join('  ') : '')).join('\n');
}
