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

/** What a conv pass's tile is chosen by: its square kernel's size (0 for other kernels), stride and output. */
export interface ConvShape {
  kernel: number;
  stride: number;
  outChannels: number;
  outWidth: number;
}

/** Picks a pass's tile for a conv shape; must return one of the tiles `candidates` lists for its kernel and stride. */
export type ConvTileRule = (shape: ConvShape) => ConvTile;

export type ConvTilePass = 'forward' | 'transposed';

export interface ConvTiling {
  forward: ConvTileRule;
  /** Picks the transposed pass's tile (conv2d's input gradient, ConvTranspose2d) by its output channels and width. */
  transposed: ConvTileRule;
  /** Every tile a pass's rule may pick for a square kernel and stride: all are precompiled (the tests run each). */
  candidates(pass: ConvTilePass, kernel: number, stride: number): readonly ConvTile[];
  weightGrad: ConvTile;
  /** The weight gradient splits the batch into slices until about this many workgroups run. */
  weightGradWorkgroups: number;
  /** Workgroup memory for staged weights (FORWARD / TRANSPOSED), in vec4s, capped at the device's limit; 0: no staging. */
  stagedVec4s: number;
  /** FORWARD / TRANSPOSED read packed weights through 64 KiB uniform bindings (storage where one output-channel block exceeds that). */
  uniformWeights: boolean;
}

export type RowReduction = 'serial' | 'tree' | 'subgroup';

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
   * Row reductions (softmax, norm statistics and row gradients): 'serial', one invocation walks a row (CPU drivers), or one
   * workgroup of `serialWorkgroup` invocations per row (GPUs) combining its invocations' partial results either by a
   * 'tree' over workgroup memory (log2 of the workgroup's barrier steps) or by 'subgroup' operations and one barrier. A
   * device without the `subgroups` feature runs 'subgroup' as 'tree' (chooseTuning).
   */
  readonly rowReduction: RowReduction;
  /** Elements per invocation in the norm kernels' elementwise passes. */
  readonly normRun: number;
  /** Convolution register tiles (shaders/conv2d.wgsl), chosen with tools/bench-conv.ts. */
  readonly conv: ConvTiling;
  /**
   * Expand the register tiles' `#unroll` loops (conv forward / transposed, matmul) in the WGSL, for
   * drivers whose compiler leaves them loops and keeps the arrays they index in memory.
   */
  readonly unroll: boolean;
}

const tile = (channels: number, pixels: number): ConvTile => ({ channels, vec4Pixels: pixels / 4 });
const fixedTile = (t: ConvTile): Pick<ConvTiling, 'forward' | 'transposed' | 'candidates'> => ({ forward: () => t, transposed: () => t, candidates: () => [t] });

/**
 * CPU drivers, measured on the Franfee UNet's shapes at batch 64 (tools/bench-conv.ts --sweep,
 * each tile's engine run round robin, medians of 5): 8 channels × 8 pixels (the 64-accumulator block that
 * is fastest for matmul there) unless the output is narrow or its channel count leaves a block
 * mostly empty. Bigger blocks spill (16×8 ran 3–100× slower), smaller ones pay their
 * per-invocation cost more often, so the rule only trades waste for size. 3×3 stride 1: ≤ 4
 * channels (an image model's last conv) take 4 × 16 (10 → 1 at 28²: 3.9 against 10.3 ms for
 * 12 × 8); rows of 9–16 pixels with ≤ 24 channels 4 × 16 (14², 10/20 → 20: 5–10 % ahead of 12 × 8);
 * rows of ≤ 4 pixels 16 × 4 where 16 divides the channels; 10 and 20 channels 12 (one or two
 * blocks, not two or three of 8). 1×1 convs take 12 × 8 (Franfee's skips: 13.0 against 17.2 ms
 * for 8 × 8 over its five), 2×2 stride-2 down-convs 12 × 8, or 16 × 4 onto rows of ≤ 4 pixels
 * (6.5 against 9.0 ms over three). Each candidate costs its own pipelines (compile time at every
 * start), so tiles that won single shapes by less are left out.
 */
const softwareForwardTile: ConvTileRule = ({ kernel, stride, outChannels, outWidth }) => {
  if (kernel === 1 && stride === 1) return tile(12, 8);
  if (kernel === 2 && stride === 2) return outWidth <= 4 ? tile(16, 4) : tile(12, 8);
  if (kernel !== 3 || stride !== 1) return tile(8, 8);
  if (outChannels <= 4) return tile(4, 16);
  if (outWidth <= 4 && outChannels % 16 === 0) return tile(16, 4);
  if (outWidth > 8 && outWidth <= 16 && outChannels <= 24) return tile(4, 16);
  if (outChannels % 8 !== 0 && outChannels <= 24) return tile(12, 8);
  return tile(8, 8);
};

/**
 * The first conv of an image model has 1-3 input channels, so its input gradient (the attacks' and
 * the guidance's every step) has as few output channels: 8-channel blocks would be ⅞ empty. 4 × 16
 * ran the 16 → 1 channel 3×3 input gradient of the guidance CNN (batch 128, 28×28) in 104–105 ms
 * against 148–158 ms for 8 × 8, interleaved in one run (/tmp scratch, load ≈ 5). 2×2 stride-2
 * up-convs (each of the 4 phases a 1-tap conv onto every other pixel): 12 × 8, or 16 × 4 where a
 * phase's rows have ≤ 4 pixels (Franfee's three: 14.8 against 22.5 ms for 8 × 8). Rows of > 16
 * pixels with ≤ 24 channels take 8 × 16 (Franfee's 28² input gradients into 10 and 20 channels:
 * 10.4 and 19.8 against 14.5–17.2 and 21.8–26.5 ms for 8 × 8 over two sweeps).
 */
const softwareTransposedTile: ConvTileRule = ({ kernel, stride, outChannels, outWidth }) => {
  if (kernel === 2 && stride === 2) return Math.ceil(outWidth / 2) <= 4 ? tile(16, 4) : tile(12, 8);
  if (kernel === 3 && stride === 1 && outChannels <= 4) return tile(4, 16);
  if (kernel === 3 && stride === 1 && outWidth > 16 && outChannels <= 24) return tile(8, 16);
  return tile(8, 8);
};

const softwareCandidates = (pass: ConvTilePass, kernel: number, stride: number): readonly ConvTile[] => {
  if (kernel === 2 && stride === 2) return [tile(12, 8), tile(16, 4)];
  if (pass === 'forward' && kernel === 1 && stride === 1) return [tile(12, 8)];
  if (kernel !== 3 || stride !== 1) return [tile(8, 8)];
  return pass === 'forward' ? [tile(8, 8), tile(12, 8), tile(16, 4), tile(4, 16)] : [tile(8, 8), tile(4, 16), tile(8, 16)];
};

/** lavapipe (and, with its loops unrolled, SwiftShader). */
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
    transposed: softwareTransposedTile,
    candidates: softwareCandidates,
    weightGrad: tile(4, 4),
    weightGradWorkgroups: 16,
    // No weight staging: its two barriers per chunk of input channels cost more than the loads they
    // save on both CPU drivers. SwiftShader runs a workgroup as coroutines that switch at every
    // barrier (Franfee step batch 8: 1.9–2.0 s unstaged, 3.5–3.8 s staged; first step, compiling
    // its pipelines, 3 s against 52 s). lavapipe, idle, the two alternating in one process: step
    // batch 64 467–531 against 535–572 ms, with the input gradient 989–1056 against 1145–1225 ms,
    // conv 3×3 64→64 8.7 against 7.7 GFLOP/s (an earlier machine, under load, had measured staging
    // 1.5× faster there; tools/ab-shader.ts --tunings compares the two again).
    stagedVec4s: 0,
    // lavapipe turns every storage-buffer load into a per-lane loop, even where the address is the
    // same for the whole workgroup (a weight); uniform-buffer loads cost less. Franfee step batch 64,
    // the two alternating in one process (tools/ab-shader.ts --tunings): conv2d_forward GPU time
    // 313 against 475 ms and 381 against 534 ms in two runs, step + input gradient 751–941 against
    // 1051–1453 ms, outputs bit-identical. SwiftShader: no difference (conv2d_forward 2092 against
    // 2085 ms at batch 8). Weights over 64 KiB are bound in 64 KiB windows of whole output-channel
    // blocks, one dispatch each: the 32/64 guidance CNN's forward + input gradient at batch 64,
    // alternating with and without windows (its 32→64 conv in storage), conv2d_forward 39–67 against
    // 54–92 ms, conv2d_transposed 42–72 against 83–107 ms; Franfee's step, whose big convs run on
    // 3×3 and 7×7 images, within noise (319 against 305 ms).
    uniformWeights: true,
  },
  // lavapipe's LLVM unrolls the register tiles itself: the Franfee step at batch 64 with the loops
  // expanded in the WGSL ran within noise of the loops (idle, alternating: step 460–880 against
  // 586–678 ms, outputs bit-identical), and the expanded kernels compile slower on a cold shader
  // cache (test/ops/conv-epilogue.test.ts 263 s against 42 s warm).
  unroll: false,
};

/**
 * SwiftShader: the software tiles, with their loops expanded in the WGSL. Its compiler keeps a
 * function-scope array indexed by a loop variable in memory, gathered lane by lane; expanded, every
 * index is a constant and the tile lives in registers. Franfee step at batch 8, idle, the two
 * alternating in one process (tools/ab-shader.ts --tunings software,swiftshader): 619–821 against
 * 2432–3168 ms (conv2d_forward 683 against 2478 ms), outputs bit-identical; conv 3×3 64→64 forward
 * 0.76 against 0.19 GFLOP/s; the CIFAR-size DDPM UNet step at batch 1 10.4 against 46.4 s (TF.js 37.3 s
 * on the same model, reports/bench-swiftshader-unet.json). The price: compiling every kernel takes
 * 27–45 s instead of 12–18 s.
 */
export const SWIFTSHADER_TUNING: Tuning = { ...SOFTWARE_TUNING, name: 'swiftshader', unroll: true };

/** Hardware adapters: many short invocations, wide workgroups. */
export const GPU_TUNING: Tuning = {
  name: 'gpu',
  matmul: { rows: 4, vec4Cols: 1 },
  flatRun: 1,
  serialWorkgroup: 64,
  sumBlock: 64,
  rowReduction: 'subgroup',
  normRun: 4,
  conv: {
    ...fixedTile(tile(4, 4)),
    weightGrad: tile(4, 4),
    weightGradWorkgroups: 256,
    // 16 KiB, what every WebGPU device offers.
    stagedVec4s: 1024,
    // Staged weights serve the same purpose; uniform weights are unmeasured on hardware.
    uniformWeights: false,
  },
  // GPU compilers unroll constant loops themselves.
  unroll: false,
};

/** The GPU tuning with workgroup-memory trees for row reductions: what GPUs without subgroups run. */
export const GPU_TREE_TUNING: Tuning = { ...GPU_TUNING, name: 'gpu-tree', rowReduction: 'tree' };

/** Every named variant: the op tests run each of them on whatever adapter CI has. */
export const TUNING_VARIANTS: Readonly<Record<string, Tuning>> = { software: SOFTWARE_TUNING, swiftshader: SWIFTSHADER_TUNING, gpu: GPU_TUNING, 'gpu-tree': GPU_TREE_TUNING };

/** What the choice of a tuning looks at. */
export interface AdapterTraits {
  /** A CPU driver (lavapipe, SwiftShader, WARP). */
  software: boolean;
  /** maxComputeWorkgroupStorageSize. */
  workgroupStorageBytes: number;
  /** The device has the `subgroups` feature. */
  subgroups: boolean;
  /** The driver's shader compiler unrolls constant-bound loops (all but SwiftShader's, as measured). */
  compilerUnrolls: boolean;
}

/** Whether a tuning reduces rows with one workgroup per row ('tree' or 'subgroup') rather than one invocation's walk. */
export const workgroupPerRow = (tuning: Tuning): boolean => tuning.rowReduction !== 'serial';

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
 * for its kind, its weight staging capped at the device's workgroup memory and its subgroup
 * reductions made trees where the device has no `subgroups` feature, then the environment overrides PURIFY_TUNING=NAME, PURIFY_TILE=RxC (matmul rows ×
 * columns) and PURIFY_CONV_TILE=CxP (conv channels × pixels, both passes).
 */
export function chooseTuning(adapter: AdapterTraits, requested?: Tuning | string): Tuning {
  const pick = requested ?? envVar('PURIFY_TUNING');
  let tuning: Tuning;
  if (typeof pick === 'string') {
    const named = TUNING_VARIANTS[pick];
    if (!named) throw new RangeError(`unknown tuning "${pick}"; known: ${Object.keys(TUNING_VARIANTS).join(', ')}`);
    tuning = named;
  } else {
    tuning = pick ?? (!adapter.software ? GPU_TUNING : adapter.compilerUnrolls ? SOFTWARE_TUNING : SWIFTSHADER_TUNING);
  }
  const matmul = parseTile('PURIFY_TILE');
  if (matmul) tuning = { ...tuning, name: `${tuning.name}+tile`, matmul: { rows: matmul[0], vec4Cols: matmul[1] } };
  const conv = parseTile('PURIFY_CONV_TILE');
  if (conv) {
    tuning = withConvTile(tuning, { channels: conv[0], vec4Pixels: conv[1] });
  }
  if (tuning.rowReduction === 'subgroup' && !adapter.subgroups) tuning = { ...tuning, name: `${tuning.name} (no subgroups: tree)`, rowReduction: 'tree' };
  const stagedVec4s = Math.min(tuning.conv.stagedVec4s, Math.floor(adapter.workgroupStorageBytes / 16));
  if (stagedVec4s < tuning.conv.stagedVec4s) tuning = { ...tuning, conv: { ...tuning.conv, stagedVec4s } };
  return tuning;
}
