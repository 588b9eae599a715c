// The one place that chooses kernel variants per adapter. CPU Vulkan drivers (lavapipe,
// SwiftShader) run workgroup memory and barriers slowly, and pay per invocation for index
// arithmetic, so they get register tiles and long serial runs of elements per invocation
// (shared/docs/engines.md §6: 8×8 vec4 blocks were fastest there). Real GPUs want many short
// invocations with coalesced loads, so they get one element per invocation.
// Engine.create() calls useAdapterTuning(); PURIFY_TILE=RxC (e.g. 4x4) overrides the matmul tile.

export interface RegisterTile {
  rows: number;
  /** Columns per invocation in units of vec4. */
  vec4Cols: number;
}

let software = true;
let matmulOverride: RegisterTile | null = null;

export function useAdapterTuning(isSoftware: boolean): void {
  software = isSoftware;
}

export function setRegisterTiling(tile: RegisterTile | null): void {
  matmulOverride = tile;
}

export function registerTiling(): RegisterTile {
  if (matmulOverride) return matmulOverride;
  const env = typeof process !== 'undefined' ? process.env.PURIFY_TILE : undefined;
  const m = env?.match(/^(\d+)x(\d+)$/);
  if (m) return { rows: Number(m[1]), vec4Cols: Math.max(1, Number(m[2]) / 4) };
  return software ? { rows: 8, vec4Cols: 2 } : { rows: 4, vec4Cols: 1 };
}

/** Consecutive elements each invocation of a flat elementwise kernel handles. */
export function flatRun(): number {
  return software ? 16 : 1;
}

// ---- Serial kernels: an invocation walks a row of norm statistics, softmax or a run of elements.

/**
 * Invocations per workgroup. Small, because such kernels often have only a few hundred
 * invocations and a CPU driver runs each workgroup on one thread: 256-wide groups would leave
 * cores idle.
 */
export const SERIAL_WG = 16;

/** Serial sums add blocks of this many terms first, so rounding grows with n/BLOCK + BLOCK, not n. */
export const SUM_BLOCK = 64;

// ---- Convolution register tiles (shaders/conv2d.wgsl), chosen with tools/bench-conv.ts on
// lavapipe: 8 output channels × 8 pixels per invocation, the same 64-accumulator block that is
// fastest for matmul there. PURIFY_CONV_TILE=CxP (channels × pixels, P a multiple of 4) overrides.

export interface ConvTile {
  /** Output channels per invocation (for the weight gradient: channels of the output gradient); a multiple of 4. */
  channels: number;
  /** Output pixels along a row per invocation, in units of vec4. */
  vec4Pixels: number;
}

export interface ConvTiling {
  forward: ConvTile;
  transposed: ConvTile;
  weightGrad: ConvTile;
  /** The weight gradient splits the batch into slices until about this many workgroups run. */
  weightGradWorkgroups: number;
}

const DEFAULT_CONV_TILING: ConvTiling = {
  forward: { channels: 8, vec4Pixels: 2 },
  transposed: { channels: 8, vec4Pixels: 2 },
  weightGrad: { channels: 4, vec4Pixels: 1 },
  weightGradWorkgroups: 16,
};

let convOverride: ConvTiling | null = null;

export function setConvTiling(tiling: ConvTiling | null): void {
  convOverride = tiling;
}

export function convTiling(): ConvTiling {
  if (convOverride) return convOverride;
  const env = typeof process !== 'undefined' ? process.env.PURIFY_CONV_TILE : undefined;
  const m = env?.match(/^(\d+)x(\d+)$/);
  if (!m) return DEFAULT_CONV_TILING;
  const tile = { channels: Number(m[1]), vec4Pixels: Math.max(1, Number(m[2]) / 4) };
  return { ...DEFAULT_CONV_TILING, forward: tile, transposed: tile, weightGrad: tile };
}
