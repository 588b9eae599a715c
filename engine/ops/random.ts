// Seeded, split-invariant Gaussian noise on the GPU (shaders/random_normal.wgsl), and the same
// generator in plain TypeScript (float64 Box–Muller) as its reference.
import type { Engine, KernelSpec } from '../runtime.ts';
import { Uniforms } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { FLAT_WG, empty, flatGrid } from './common.ts';

export const randomKernel = (uniform: boolean): KernelSpec => ({ op: uniform ? 'random_uniform' : 'random_normal', shader: 'random_normal', defines: { WG: FLAT_WG, UNIFORM: uniform } });
export const randomKernels = (): KernelSpec[] => [randomKernel(false), randomKernel(true)];

export interface NoiseKey {
  seed: number;
  /** Separates independent uses of one seed, e.g. the reverse step number. */
  stream: number;
  /** Global index of the tensor's first row (image), so a split batch gets the same noise. */
  firstRow?: number;
}

function splitSeed(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  return [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
}

/** Standard normal noise of `shape`; rows are the first axis. */
export const randomNormal = (engine: Engine, shape: readonly number[], key: NoiseKey): Tensor => random(engine, shape, key, false);
/** Uniform noise in [−1, 1) of `shape`. */
export const randomUniform = (engine: Engine, shape: readonly number[], key: NoiseKey): Tensor => random(engine, shape, key, true);

function random(engine: Engine, shape: readonly number[], key: NoiseKey, uniform: boolean): Tensor {
  const out = empty(engine, shape, uniform ? 'random_uniform' : 'random_normal');
  const rowLength = shape.length > 1 ? out.size / shape[0] : out.size;
  const [lo, hi] = splitSeed(key.seed);
  const { groups, groupsX } = flatGrid(engine, out.size);
  engine.dispatch(randomKernel(uniform), [out], new Uniforms().u32(out.size, groupsX, rowLength, key.firstRow ?? 0, key.stream >>> 0, lo, hi), groups);
  return out;
}

// ---- reference (CPU) ----

function mulWide(a: number, b: number): [number, number] {
  const p = BigInt(a >>> 0) * BigInt(b >>> 0);
  return [Number(p >> 32n), Number(p & 0xffffffffn)];
}

export function philoxReference(counter: [number, number, number, number], key: [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulWide(0xd2511f53, c0);
    const [hi1, lo1] = mulWide(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/**
 * Uniforms in [0, 1) on the CPU from the same Philox generator, one stream per (seed, stream, row):
 * for CPU-side attack randomness (window positions, signs) that must not depend on how images are
 * batched. Draw k of a stream is counter (row, k, stream, 0).
 */
export function cpuUniformStream(key: NoiseKey): () => number {
  const seed = splitSeed(key.seed);
  const row = key.firstRow ?? 0;
  let k = 0;
  return () => philoxReference([row >>> 0, k++ >>> 0, key.stream >>> 0, 0], seed)[0] / 4294967296;
}

export function randomNormalReference(shape: readonly number[], key: NoiseKey): Float64Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const rowLength = shape.length > 1 ? size / shape[0] : size;
  const [lo, hi] = splitSeed(key.seed);
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const index = BigInt((key.firstRow ?? 0) + Math.floor(i / rowLength)) * BigInt(rowLength) + BigInt(i % rowLength);
    const bits = philoxReference([Number(index & 0xffffffffn), Number(index >> 32n), key.stream >>> 0, 0], [lo, hi]);
    const u1 = ((bits[0] >>> 8) + 1) / 16777216;
    const u2 = (bits[1] >>> 8) / 16777216;
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}
