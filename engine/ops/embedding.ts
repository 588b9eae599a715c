// Sinusoidal timestep embeddings (shaders/timestep_embedding.wgsl): the interleaved table of the
// Franfee MNIST DDPM and diffusers' get_timestep_embedding ([sin, cos] or, flipped, [cos, sin]).
import { Uniforms, type Engine, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { FLAT_WG, empty, flatGrid, fromArray } from './common.ts';

export type EmbeddingLayout = 'interleaved' | 'sin-cos' | 'cos-sin';

export interface TimestepEmbeddingOptions {
  /** The longest period, in timesteps (10000). */
  maxPeriod?: number;
  /** diffusers' downscale_freq_shift: 1 for the DDPM UNet2DModel, 0 for most others (0). */
  downscaleFreqShift?: number;
}

export const embeddingKernel: KernelSpec = { op: 'timestep_embedding', shader: 'timestep_embedding', defines: { WG: FLAT_WG } };

/** v rounded to `bits` significant bits, so that v times an integer below 2^(24 − bits) is exact in f32. */
function roundToBits(v: number, bits: number): number {
  if (v === 0) return 0;
  const quantum = 2 ** (Math.floor(Math.log2(Math.abs(v))) - bits + 1);
  return Math.round(v / quantum) * quantum;
}

/**
 * Frequency i = maxPeriod^(−i / (half − shift)), in turns per timestep, computed in float64 and
 * split into hi + mid + lo (see the shader for why).
 */
function frequencyParts(half: number, maxPeriod: number, shift: number): Float32Array {
  const parts = new Float32Array(3 * half);
  for (let i = 0; i < half; i++) {
    const turns = Math.exp((-Math.log(maxPeriod) * i) / (half - shift)) / (2 * Math.PI);
    const hi = roundToBits(turns, 12);
    const mid = roundToBits(turns - hi, 12);
    parts.set([hi, mid, turns - hi - mid], 3 * i);
  }
  return parts;
}

/**
 * [timesteps.length, dim] embedding. 'interleaved': columns 2i, 2i+1 = sin, cos of
 * t / maxPeriod^(2i/dim). 'sin-cos' / 'cos-sin': diffusers' [sin | cos] halves (flip_sin_to_cos
 * gives [cos | sin]) of t · exp(−ln(maxPeriod) · i / (dim/2 − downscaleFreqShift)); an odd dim ends
 * with a zero column. Exact argument reduction holds for |t| < 4096.
 */
export function timestepEmbedding(engine: Engine, timesteps: readonly number[], dim: number, layout: EmbeddingLayout, opts: TimestepEmbeddingOptions = {}): Tensor {
  const { maxPeriod = 10000, downscaleFreqShift = 0 } = opts;
  const half = Math.floor(dim / 2);
  if (!Number.isInteger(dim) || half < 1) throw new RangeError(`timestepEmbedding: dim ${dim} must be an integer ≥ 2`);
  if (layout === 'interleaved' && dim % 2 !== 0) throw new RangeError(`timestepEmbedding: the interleaved layout needs an even dim, got ${dim}`);
  if (half - downscaleFreqShift <= 0) throw new RangeError(`timestepEmbedding: downscaleFreqShift ${downscaleFreqShift} leaves no frequencies for dim ${dim}`);
  if (timesteps.length === 0 || timesteps.some((t) => !Number.isFinite(t))) throw new RangeError('timestepEmbedding: timesteps must be finite and non-empty');
  const ts = fromArray(engine, timesteps, [timesteps.length], 'timesteps');
  const parts = fromArray(engine, frequencyParts(half, maxPeriod, downscaleFreqShift), [3 * half], 'frequencies');
  const out = empty(engine, [timesteps.length, dim], 'timestep_embedding');
  const [freqDiv, phaseDiv] = layout === 'interleaved' ? [2, 1] : [1, half];
  const { groups, groupsX } = flatGrid(engine, out.size);
  const u = new Uniforms().u32(out.size, groupsX, dim, half, freqDiv, phaseDiv, layout === 'cos-sin' ? 1 : 0);
  engine.dispatch(embeddingKernel, [ts, parts, out], u, groups);
  ts.dispose();
  parts.dispose();
  return out;
}

export const embeddingKernels = (): KernelSpec[] => [embeddingKernel];
