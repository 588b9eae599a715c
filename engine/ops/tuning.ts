// The one place that chooses kernel variants. A Tuning is a value each Engine owns (chosen from its
// adapter, overridable at Engine.create), passed to every kernel builder, so two engines in one
// process can run different variants and the tests can run the GPU variants on a CPU adapter.
//
// CPU Vulkan drivers (lavapipe, SwiftShader) run workgroup memory and barriers slowly and pay per
// invocation for index arithmetic, so they get register tiles and long serial runs of elements per
// invocation (shared/docs/engines.md §6: 8×8 vec4 blocks were fastest there). Real GPUs want many
// short invocations with coalesced loads, so they get small tiles and one element per invocation.

export interface RegisterTile {
  rows: number;
  /** Columns per invocation in units of vec4. */
  vec4Cols: number;
}

export interface ConvTile {
  /** Output channels per invocation (for the weight gradient: channels of the output gradient); a multiple of 4. */
  channels: number;
  /** Output pixels along a row per invocation, in units of vec4. */
  vec4Pixels: number;
}

/**
 * Picks the forward tile for a `kernelSize`² stride-1 conv with an output of `outChannels`
 * channels and `outWidth` columns (other convs take the first of `forwardTiles`).
 */
export type ConvTileRule = (outChannels: number, outWidth: number) => ConvTile;

export interface ConvTiling {
  forward: ConvTileRule;
  /** Every tile `forward` may pick, the default first; all are precompiled for 3×3 stride-1 convs. */
  forwardTiles: readonly ConvTile[];
  /** Picks the transposed pass's tile (conv2d's input gradient) like `forward`, by its output channels and width. */
  transposed: ConvTileRule;
  /** Every tile `transposed` may pick, the default first; all are precompiled for 3×3 stride-1 kernels. */
  transposedTiles: readonly ConvTile[];
  weightGrad: ConvTile;
  /** The weight gradient splits the batch into slices until about this many workgroups run. */
  weightGradWorkgroups: number;
  /** Workgroup memory for staged weights (FORWARD / TRANSPOSED), in vec4s; capped at the device's limit. */
  stagedVec4s: number;
}

export interface Tuning {
  /** Names the variant in test output and benchmark tables. */
  readonly name: string;
  readonly matmul: RegisterTile;
  /** Consecutive elements each invocation of a flat elementwise kernel handles. */
  readonly flatRun: number;
  /**
   * Invocations per workgroup of the serial kernels (an invocation walks a row of norm statistics,
   * softmax or a run of elements). Small on CPU drivers, which run each workgroup on one thread:
   * such kernels often have only a few hundred invocations and 256-wide groups would idle cores.
   */
  readonly serialWorkgroup: number;
  /** Serial sums add blocks of this many terms first, so rounding grows with n/BLOCK + BLOCK, not n. */
  readonly sumBlock: number;
  /**
   * Row reductions (softmax, norm statistics and row gradients): 'serial', one invocation walks a row (CPU drivers), or 'tree', one
   * workgroup of `serialWorkgroup` invocations per row combining through workgroup memory (GPUs).
   */
  readonly rowReduction: 'serial' | 'tree';
  /** Elements per invocation in the norm kernels' elementwise passes. */
  readonly normRun: number;
  /** Convolution register tiles (shaders/conv2d.wgsl), chosen with tools/bench-conv.ts. */
  readonly conv: ConvTiling;
}

const tile = (channels: number, pixels: number): ConvTile => ({ channels, vec4Pixels: pixels / 4 });
const fixedTile = (t: ConvTile): Pick<ConvTiling, 'forward' | 'forwardTiles' | 'transposed' | 'transposedTiles'> => ({ forward: () => t, forwardTiles: [t], transposed: () => t, transposedTiles: [t] });

/**
 * CPU drivers, measured on the Franfee UNet's shapes (tools/bench-conv.ts --sweep): 8 channels × 8
 * pixels (the 64-accumulator block that is fastest for matmul there) unless the output is narrow
 * or its channel count leaves a block mostly empty. Bigger blocks spill (16×8 ran 3–100× slower),
 * smaller ones pay their per-invocation cost more often, so the rule only trades waste for size:
 * rows of ≤ 4 pixels take 16 channels × 4 pixels where 16 divides the channels; 10 and 20 channels
 * take 12 (one or two blocks, not two or three of 8). Each candidate tile costs its own pipelines
 * (compile time at every start), so only 3×3 stride-1 convs choose, and tiles that won single
 * shapes by less (4×8 for one channel, 8×4) are left out.
 */
const softwareForwardTile: ConvTileRule = (outChannels, outWidth) => {
  if (outWidth <= 4 && outChannels % 16 === 0) return tile(16, 4);
  if (outChannels % 8 !== 0 && outChannels <= 24) return tile(12, 8);
  return tile(8, 8);
};

/**
 * The first conv of an image model has 1-3 input channels, so its input gradient (the attacks' and
 * the guidance's every step) has as few output channels: 8-channel blocks would be ⅞ empty. 4 × 16
 * ran the 16 → 1 channel 3×3 input gradient of the guidance CNN (batch 128, 28×28) in 104–105 ms
 * against 148–158 ms for 8 × 8, interleaved in one run (/tmp scratch, load ≈ 5).
 */
const softwareTransposedTile: ConvTileRule = (outChannels) => (outChannels <= 4 ? tile(4, 16) : tile(8, 8));

/** lavapipe and SwiftShader. */
export const SOFTWARE_TUNING: Tuning = {
  name: 'software',
  matmul: { rows: 8, vec4Cols: 2 },
  flatRun: 16,
  serialWorkgroup: 16,
  sumBlock: 64,
  rowReduction: 'serial',
  normRun: 64,
  conv: {
    forward: softwareForwardTile,
    forwardTiles: [tile(8, 8), tile(12, 8), tile(16, 4)],
    transposed: softwareTransposedTile,
    transposedTiles: [tile(8, 8), tile(4, 16)],
    weightGrad: tile(4, 4),
    weightGradWorkgroups: 16,
    // lavapipe and SwiftShader offer 32 KiB.
    stagedVec4s: 2048,
  },
};

/** Hardware adapters: many short invocations, wide workgroups. */
export const GPU_TUNING: Tuning = {
  name: 'gpu',
  matmul: { rows: 4, vec4Cols: 1 },
  flatRun: 1,
  serialWorkgroup: 64,
  sumBlock: 64,
  rowReduction: 'tree',
  normRun: 4,
  conv: {
    ...fixedTile(tile(4, 4)),
    weightGrad: tile(4, 4),
    weightGradWorkgroups: 256,
    // 16 KiB, what every WebGPU device offers.
    stagedVec4s: 1024,
  },
};

/** Every named variant: the op tests run each of them on whatever adapter CI has. */
export const TUNING_VARIANTS: Readonly<Record<string, Tuning>> = { software: SOFTWARE_TUNING, gpu: GPU_TUNING };

const envVar = (name: string): string | undefined => (typeof process !== 'undefined' ? process.env?.[name] : undefined);

/** A tuning whose conv passes all use one tile (the conv kernel lab compares tiles this way). */
export function withConvTile(tuning: Tuning, t: ConvTile): Tuning {
  return { ...tuning, name: `${tuning.name} conv ${t.channels}x${4 * t.vec4Pixels}`, conv: { ...tuning.conv, ...fixedTile(t), weightGrad: t } };
}

function parseTile(name: string): [number, number] | null {
  const value = envVar(name);
  if (value === undefined) return null;
  const m = value.match(/^(\d+)x(\d+)$/);
  if (!m || Number(m[2]) % 4 || Number(m[1]) < 1) throw new RangeError(`${name}=${value}: expected RxC with C a multiple of 4, e.g. 8x8`);
  return [Number(m[1]), Number(m[2]) / 4];
}

/**
 * The tuning for an adapter: `requested` (a Tuning or a variant name) if given, else the variant
 * for its kind, its weight staging capped at the device's workgroup memory, then the environment overrides PURIFY_TUNING=NAME, PURIFY_TILE=RxC (matmul rows ×
 * columns) and PURIFY_CONV_TILE=CxP (conv channels × pixels, both passes).
 */
export function chooseTuning(software: boolean, requested?: Tuning | string, workgroupStorageBytes = Infinity): Tuning {
  const pick = requested ?? envVar('PURIFY_TUNING');
  let tuning: Tuning;
  if (typeof pick === 'string') {
    const named = TUNING_VARIANTS[pick];
    if (!named) throw new RangeError(`unknown tuning "${pick}"; known: ${Object.keys(TUNING_VARIANTS).join(', ')}`);
    tuning = named;
  } else {
    tuning = pick ?? (software ? SOFTWARE_TUNING : GPU_TUNING);
  }
  const matmul = parseTile('PURIFY_TILE');
  if (matmul) tuning = { ...tuning, name: `${tuning.name}+tile`, matmul: { rows: matmul[0], vec4Cols: matmul[1] } };
  const conv = parseTile('PURIFY_CONV_TILE');
  if (conv) {
    tuning = withConvTile(tuning, { channels: conv[0], vec4Pixels: conv[1] });
  }
  const stagedVec4s = Math.min(tuning.conv.stagedVec4s, Math.floor(workgroupStorageBytes / 16));
  if (stagedVec4s < tuning.conv.stagedVec4s) tuning = { ...tuning, conv: { ...tuning.conv, stagedVec4s } };
  return tuning;
}
