// The one place that chooses kernel variants per adapter. CPU Vulkan drivers (lavapipe,
// SwiftShader) run workgroup memory and barriers slowly and register tiles fast
// (shared/docs/engines.md §6: 8×8 vec4 blocks were fastest there); the same register-tiled kernels
// also run correctly on GPUs. PURIFY_TILE=RxC (e.g. 4x4) overrides for experiments.

export interface RegisterTile {
  rows: number;
  /** Columns per invocation in units of vec4. */
  vec4Cols: number;
}

let override: RegisterTile | null = null;

export function setRegisterTiling(tile: RegisterTile | null): void {
  override = tile;
}

export function registerTiling(): RegisterTile {
  if (override) return override;
  const env = typeof process !== 'undefined' ? process.env.PURIFY_TILE : undefined;
  const m = env?.match(/^(\d+)x(\d+)$/);
  if (m) return { rows: Number(m[1]), vec4Cols: Math.max(1, Number(m[2]) / 4) };
  return { rows: 8, vec4Cols: 2 };
}
