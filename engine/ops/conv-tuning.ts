// Register tiles of the conv kernels (shaders/conv2d.wgsl), the conv counterpart of tuning.ts.
// Chosen with tools/bench-conv.ts on lavapipe (2 cores): 8 output channels × 8 pixels per
// invocation, the same 64-accumulator block that is fastest for matmul there (shared/docs/engines.md §6).
// PURIFY_CONV_TILE=CxP (channels × pixels, P a multiple of 4, e.g. 4x8) overrides for experiments.

export interface ConvTile {
  /** Output channels per invocation (weight-gradient pass: its output channels, i.e. gradient channels). */
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

const DEFAULT: ConvTiling = {
  forward: { channels: 8, vec4Pixels: 2 },
  transposed: { channels: 8, vec4Pixels: 2 },
  weightGrad: { channels: 4, vec4Pixels: 2 },
  weightGradWorkgroups: 16,
};

let override: ConvTiling | null = null;

export function setConvTiling(tiling: ConvTiling | null): void {
  override = tiling;
}

export function convTiling(): ConvTiling {
  if (override) return override;
  const env = typeof process !== 'undefined' ? process.env.PURIFY_CONV_TILE : undefined;
  const m = env?.match(/^(\d+)x(\d+)$/);
  if (!m) return DEFAULT;
  const tile = { channels: Number(m[1]), vec4Pixels: Math.max(1, Number(m[2]) / 4) };
  return { ...DEFAULT, forward: tile, transposed: tile, weightGrad: tile };
}
