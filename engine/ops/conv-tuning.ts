// Register tiles of the conv kernels (shaders/conv2d.wgsl), the conv counterpart of tuning.ts.
// Chosen with tools/bench-conv.ts on lavapipe (2 cores, conv3×3 64→64 32×32 batch 8): forward and
// transposed 8 channels × 8 pixels (4×16 is as fast; 12×12 and 16×4 spill and run 3-6× slower);
// the weight gradient, which keeps all 3×3 taps of 4 channels live, 4 channels × 4 pixels
// (4×8 spills: about 2× slower). PURIFY_CONV_TILE=CxP (channels × pixels, both multiples of 4,
// e.g. 4x16) overrides every pass, for experiments.

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

const DEFAULT: ConvTiling = {
  forward: { channels: 8, vec4Pixels: 2 },
  transposed: { channels: 8, vec4Pixels: 2 },
  weightGrad: { channels: 4, vec4Pixels: 1 },
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
