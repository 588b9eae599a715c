// Optional comparison: the same conv/matmul shapes on TensorFlow.js's WebGPU backend, on the same
// dawn.node adapter (devDependencies @tensorflow/tfjs-core and @tensorflow/tfjs-backend-webgpu).
import type { BenchRecord } from './measure.ts';

export interface TfjsCase {
  op: string;
  shape: string;
  flops?: number;
  images?: number;
  /** A cap on repeats for slow cases, as BenchCase has. */
  maxRepeats?: number;
  build(tf: any): { run(): any; dispose(): void; check?(out: any): Promise<{ maxErr: number; maxRef: number }> };
}

export const tfjsCases: TfjsCase[] = [
  {
    op: 'tfjs matmul',
    shape: '512×512×512',
    flops: 2 * 512 ** 3,
    build: (tf) => {
      const a = tf.randomUniform([512, 512]);
      const b = tf.randomUniform([512, 512]);
      return { run: () => tf.matMul(a, b), dispose: () => tf.dispose([a, b]) };
    },
  },
  {
    op: 'tfjs conv2d 3×3 forward',
    shape: '8×64×32×32 → 64',
    flops: 2 * 8 * 64 * 32 * 32 * 64 * 9,
    build: (tf) => {
      // TF.js is channels-last: [N, H, W, C] and filters [KH, KW, Cin, Cout].
      const x = tf.randomUniform([8, 32, 32, 64]);
      const w = tf.randomUniform([3, 3, 64, 64]);
      return { run: () => tf.conv2d(x, w, 1, 'same'), dispose: () => tf.dispose([x, w]) };
    },
  },
];

/** Dawn's adapter names are shorter than adapter.info.description; match on the driver's first word. */
export const dawnAdapterName = (description: string) => description.split(/[: ]/)[0];

/** A port's output may differ from the engine's by f32 rounding, not more. */
const PORT_TOLERANCE = 1e-3;

/**
 * Runs `cases` on the adapter whose name contains `adapterName`; null when TF.js is not installed.
 * A case with a check() is compared with the engine's output first and fails loudly if it differs.
 */
export async function runTfjs(adapterName: string, gpu: GPU, repeats: number, cases: TfjsCase[] = tfjsCases): Promise<BenchRecord[] | null> {
  // tfjs-backend-webgpu registers itself only if navigator.gpu exists when it is imported.
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  let tf: any;
  try {
    tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch {
    return null;
  }
  await tf.setBackend('webgpu');
  await tf.ready();
  const records: BenchRecord[] = [];
  for (const c of cases) {
    const { run, dispose, check } = c.build(tf);
    if (check) {
      const out = run();
      const { maxErr, maxRef } = await check(out);
      out.dispose();
      console.error(`${c.op}: max |TF.js − engine| ${maxErr.toExponential(2)} (max |engine| ${maxRef.toExponential(2)})`);
      if (!(maxErr <= PORT_TOLERANCE * Math.max(1, maxRef))) throw new Error(`${c.op}: the TF.js port differs from the engine by ${maxErr} (tolerance ${PORT_TOLERANCE} × max(1, ${maxRef}))`);
    }
    const once = async () => {
      const t0 = performance.now();
      const out = run();
      await out.data();
      out.dispose();
      return performance.now() - t0;
    };
    for (let i = 0; i < (check ? 1 : 2); i++) await once();
    const times: number[] = [];
    const runs = Math.min(repeats, c.maxRepeats ?? Infinity);
    for (let i = 0; i < runs; i++) times.push(await once());
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)];
    records.push({ adapter: adapterName, op: c.op, shape: c.shape, ms, gpuMs: null, gflops: c.flops ? c.flops / (ms * 1e6) : null, imagesPerSec: c.images ? (c.images * 1000) / ms : null, repeats: runs });
    dispose();
  }
  return records;
}
