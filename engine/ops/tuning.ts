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
let override: RegisterTile | null = null;

export function useAdapterTuning(isSoftware: boolean): void {
  software = isSoftware;
}

export function setRegisterTiling(tile: RegisterTile | null): void {
  override = tile;
}

export function registerTiling(): RegisterTile {
  if (override) return override;
  const env = typeof process !== 'undefined' ? process.env.PURIFY_TILE : undefined;
  const m = env?.match(/^(\d+)x(\d+)$/);
  if (m) return { rows: Number(m[1]), vec4Cols: Math.max(1, Number(m[2]) / 4) };
  return software ? { rows: 8, vec4Cols: 2 } : { rows: 4, vec4Cols: 1 };
}

/** Consecutive elements each invocation of a flat elementwise kernel handles. */
export function flatRun(): number {
  return software ? 16 : 1;
}
