// Group norm (optionally fused with SiLU), layer norm over (C, H, W) (shaders/norm.wgsl) and
// inference-mode batch norm (shaders/channel_affine.wgsl), each with its gradients w.r.t. x, γ, β.
import { record } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { empty, flatGrid } from './common.ts';
import { workgroupPerRow, type Tuning } from './tuning.ts';

const NORM_PASSES = ['STATS', 'NORMALISE', 'APPLY', 'ROW_GRADS', 'INPUT_GRAD', 'PARAM_GRADS'] as const;
type NormPass = (typeof NORM_PASSES)[number];

/** How x splits into segments (runs sharing a row and a γ/β slot) and rows; see shaders/norm.wgsl. */
interface SegmentLayout {
  batch: number;
  /** Segments per sample. */
  channels: number;
  segmentLength: number;
  segmentsPerRow: number;
  /** γ/β hold one value per element of a sample (layer norm) rather than one per channel. */
  elementAffine: boolean;
}

/** Whether a pass reduces each row with a workgroup (GPU tunings) rather than one invocation's walk. */
const rowPerWorkgroup = (tuning: Tuning, pass: NormPass) => workgroupPerRow(tuning) && (pass === 'STATS' || pass === 'NORMALISE' || pass === 'ROW_GRADS');

/**
 * Whether a pass reads and writes vec4s: serial statistics over rows, and the apply pass over
 * segments, of whole vec4s. CPU drivers load storage buffers one lane at a time, so a vec4 load
 * costs about what one value's does. Franfee step batch 64 on lavapipe (layer norm rows of 720–7840
 * values), scalar and vec4 alternating in one process: statistics 11.2 → 5.1 ms, apply 17.9 → 12.4
 * ms of GPU time; outputs within 4.1e-6 (the sums' order).
 */
function vec4Pass(tuning: Tuning, pass: NormPass, layout: SegmentLayout): boolean {
  if (pass === 'STATS') return vec4Capable(tuning, pass) && (layout.segmentsPerRow * layout.segmentLength) % 4 === 0;
  return vec4Capable(tuning, pass) && layout.segmentLength % 4 === 0;
}

/** The shape-independent half of vec4Pass: which passes have vec4 kernels under a tuning (and are precompiled). */
const vec4Capable = (tuning: Tuning, pass: NormPass): boolean => (pass === 'STATS' ? !rowPerWorkgroup(tuning, pass) : pass === 'APPLY' && tuning.normRun % 4 === 0);

function normKernel(tuning: Tuning, pass: NormPass, elementAffine = false, silu = false, vec4 = false): KernelSpec {
  const perWorkgroup = rowPerWorkgroup(tuning, pass);
  if (pass === 'NORMALISE' && !perWorkgroup) throw new RangeError(`norm: the fused NORMALISE pass needs a tuning with a workgroup per row, not "${tuning.name}"`);
  const defines: Record<string, boolean | number> = {
    WG: tuning.serialWorkgroup, BLOCK: tuning.sumBlock, RUN: tuning.normRun, ELEMENT_AFFINE: elementAffine, SILU: silu, TREE: perWorkgroup,
    SUBGROUPS: perWorkgroup && tuning.rowReduction === 'subgroup', VEC4: vec4,
  };
  for (const name of NORM_PASSES) defines[name] = name === pass;
  // NORMALISE is STATS followed by the apply in the same kernel.
  if (pass === 'NORMALISE') defines.STATS = true;
  const variant = `${elementAffine ? '_elementwise' : ''}${silu ? '_silu' : ''}${perWorkgroup ? `_${tuning.rowReduction}` : ''}${vec4 ? '_vec4' : ''}`;
  return { op: `norm_${pass.toLowerCase()}${variant}`, shader: 'norm', defines };
}

function launchNorm(pass: NormPass, layout: SegmentLayout, eps: number, count: number, storage: Tensor[], silu = false): void {
  const engine = storage[0].engine;
  // Statistics ignore how γ/β are indexed, so one STATS pipeline serves both norms.
  const kernel = normKernel(engine.tuning, pass, pass !== 'STATS' && layout.elementAffine, silu, vec4Pass(engine.tuning, pass, layout));
  // A pass with a workgroup per row: count workgroups' worth of invocations.
  const wg = engine.tuning.serialWorkgroup;
  const { groups, groupsX } = flatGrid(engine, rowPerWorkgroup(engine.tuning, pass) ? count * wg : count, wg);
  const { batch, channels, segmentLength, segmentsPerRow } = layout;
  const u = new Uniforms()
    .u32(count, groupsX, segmentsPerRow * segmentLength, segmentLength, segmentsPerRow, Math.ceil(segmentLength / engine.tuning.normRun), channels, batch)
    .f32(eps);
  engine.dispatch(kernel, storage, u, groups);
}

function normalise(op: string, x: Tensor, gamma: Tensor, beta: Tensor, layout: SegmentLayout, eps: number, silu: boolean): Tensor {
  const engine = x.engine;
  const rows = (layout.batch * layout.channels) / layout.segmentsPerRow;
  const runs = layout.batch * layout.channels * Math.ceil(layout.segmentLength / engine.tuning.normRun);
  const stats = empty(engine, [rows, 3], `${op} stats`);
  const y = empty(engine, x.shape, op);
  // Where a workgroup reduces a row it also applies it: one dispatch. Serial statistics (CPU
  // drivers) keep a separate apply pass, whose runs spread a row over many invocations.
  if (workgroupPerRow(engine.tuning)) {
    launchNorm('NORMALISE', layout, eps, rows, [x, stats, gamma, beta, y], silu);
  } else {
    launchNorm('STATS', layout, eps, rows, [x, stats]);
    launchNorm('APPLY', layout, eps, runs, [x, stats, gamma, beta, y], silu);
  }
  record(op, [x, gamma, beta], y, (gradOut) => {
    // With SiLU the row pass also turns gradOut into the pre-activation gradient dy, which the
    // parameter pass needs too, so it runs whenever anything is differentiated.
    let dy = gradOut;
    let rowGrads: Tensor | null = null;
    if (x.requiresGrad || silu) {
      rowGrads = empty(engine, [rows, 2], `${op} row grads`);
      if (silu) dy = empty(engine, x.shape, `${op} pre-activation grad`);
      launchNorm('ROW_GRADS', layout, eps, rows, silu ? [x, stats, gamma, gradOut, rowGrads, beta, dy] : [x, stats, gamma, gradOut, rowGrads], silu);
    }
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty(engine, x.shape, `${op} dx`);
      launchNorm('INPUT_GRAD', layout, eps, runs, [x, stats, gamma, dy, rowGrads!, dx]);
    }
    if (!gamma.requiresGrad && !beta.requiresGrad) return [dx, null, null];
    const dGamma = empty(engine, gamma.shape, `${op} dgamma`);
    const dBeta = empty(engine, beta.shape, `${op} dbeta`);
    launchNorm('PARAM_GRADS', layout, eps, gamma.size, [x, stats, dy, dGamma, dBeta]);
    return [dx, dGamma, dBeta];
  });
  if (!y.requiresGrad) stats.dispose();
  return y;
}

function checkParams(op: string, gamma: Tensor, beta: Tensor, count: number, what: string): void {
  if (gamma.size !== count || beta.size !== count) {
    throw new RangeError(`${op}: γ [${gamma.shape}] and β [${beta.shape}] must have ${count} values (${what})`);
  }
}

export interface GroupNormOptions {
  eps?: number;
  /** Applies SiLU to the result in the same pass. */
  silu?: boolean;
}

/** PyTorch GroupNorm (biased variance) of x [N, C, ...spatial] with per-channel γ, β [C]. */
export function groupNorm(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, opts: GroupNormOptions = {}): Tensor {
  const { eps = 1e-5, silu = false } = opts;
  if (x.rank < 2) throw new RangeError(`groupNorm: x must be [N, C, ...], got [${x.shape}]`);
  const [batch, channels] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0) throw new RangeError(`groupNorm: ${channels} channels do not split into ${groups} groups`);
  checkParams('groupNorm', gamma, beta, channels, 'one per channel');
  const layout = { batch, channels, segmentLength: x.size / (batch * channels), segmentsPerRow: channels / groups, elementAffine: false };
  return normalise(silu ? 'group_norm_silu' : 'group_norm', x, gamma, beta, layout, eps, silu);
}

/** PyTorch nn.LayerNorm([C, H, W]): each sample of x [N, C, H, W] normalised over all its values, elementwise γ, β [C, H, W]. */
export function layerNormCHW(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  if (x.rank < 2) throw new RangeError(`layerNormCHW: x must be [N, ...], got [${x.shape}]`);
  const batch = x.shape[0];
  const sampleSize = x.size / batch;
  checkParams('layerNormCHW', gamma, beta, sampleSize, `one per element of [${x.shape.slice(1)}]`);
  const layout = { batch, channels: 1, segmentLength: sampleSize, segmentsPerRow: 1, elementAffine: true };
  return normalise('layer_norm', x, gamma, beta, layout, eps, false);
}

// ---------------------------------------------------------------- batch norm (inference)

const AFFINE_PASSES = ['PREPARE', 'APPLY', 'PARAM_GRADS'] as const;
type AffinePass = (typeof AFFINE_PASSES)[number];

function channelAffineKernel(tuning: Tuning, pass: AffinePass, shift = true): KernelSpec {
  const defines: Record<string, boolean | number> = { WG: tuning.serialWorkgroup, RUN: tuning.normRun, SHIFT: shift };
  for (const name of AFFINE_PASSES) defines[name] = name === pass;
  const op = pass === 'APPLY' ? (shift ? 'channel_affine' : 'channel_scale') : `channel_affine_${pass.toLowerCase()}`;
  return { op, shader: 'channel_affine', defines };
}

interface ChannelLayout {
  batch: number;
  channels: number;
  spatial: number;
}

function launchAffine(pass: AffinePass, layout: ChannelLayout, eps: number, count: number, storage: Tensor[], shift = true): void {
  const engine = storage[0].engine;
  const kernel = channelAffineKernel(engine.tuning, pass, shift);
  const { groups, groupsX } = flatGrid(engine, count, engine.tuning.serialWorkgroup);
  const u = new Uniforms().u32(count, groupsX, layout.channels, layout.spatial, Math.ceil(layout.spatial / engine.tuning.normRun), layout.batch).f32(eps);
  engine.dispatch(kernel, storage, u, groups);
}

/**
 * Batch norm with running statistics (PyTorch BatchNorm in eval mode) of x [N, C, ...spatial]:
 * γ·(x − mean)/√(var + eps) + β, folded into one per-channel scale and shift. Gradients flow to x, γ, β.
 */
export function batchNormInference(x: Tensor, runningMean: Tensor, runningVar: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  if (x.rank < 2) throw new RangeError(`batchNormInference: x must be [N, C, ...], got [${x.shape}]`);
  const [batch, channels] = x.shape;
  checkParams('batchNormInference', gamma, beta, channels, 'one per channel');
  if (runningMean.size !== channels || runningVar.size !== channels) {
    throw new RangeError(`batchNormInference: running mean [${runningMean.shape}] and variance [${runningVar.shape}] must have ${channels} values`);
  }
  const engine = x.engine;
  const layout = { batch, channels, spatial: x.size / (batch * channels) };
  const affine = empty(engine, [channels, 2], 'batch_norm scale and shift');
  launchAffine('PREPARE', layout, eps, channels, [runningMean, runningVar, gamma, beta, affine]);
  const y = empty(engine, x.shape, 'batch_norm');
  const runs = batch * channels * Math.ceil(layout.spatial / engine.tuning.normRun);
  launchAffine('APPLY', layout, eps, runs, [x, affine, y]);
  record('batch_norm', [x, gamma, beta], y, (gradOut) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty(engine, x.shape, 'batch_norm dx');
      launchAffine('APPLY', layout, eps, runs, [gradOut, affine, dx], false);
    }
    if (!gamma.requiresGrad && !beta.requiresGrad) return [dx, null, null];
    const dGamma = empty(engine, gamma.shape, 'batch_norm dgamma');
    const dBeta = empty(engine, beta.shape, 'batch_norm dbeta');
    launchAffine('PARAM_GRADS', layout, eps, channels, [x, gradOut, runningMean, runningVar, dGamma, dBeta]);
    return [dx, dGamma, dBeta];
  });
  if (!y.requiresGrad) affine.dispose();
  return y;
}

export const normKernels = (tuning: Tuning): KernelSpec[] => [
  normKernel(tuning, 'STATS'),
  ...(vec4Capable(tuning, 'STATS') ? [normKernel(tuning, 'STATS', false, false, true)] : []),
  ...(['APPLY', 'ROW_GRADS', 'INPUT_GRAD', 'PARAM_GRADS'] as const).flatMap((pass) => [normKernel(tuning, pass), normKernel(tuning, pass, true)]),
  ...(vec4Capable(tuning, 'APPLY') ? [false, true].flatMap((elementAffine) => [false, true].map((silu) => normKernel(tuning, 'APPLY', elementAffine, silu, true))) : []),
  normKernel(tuning, 'APPLY', false, true),
  normKernel(tuning, 'ROW_GRADS', false, true),
  ...(workgroupPerRow(tuning) ? [normKernel(tuning, 'NORMALISE'), normKernel(tuning, 'NORMALISE', true), normKernel(tuning, 'NORMALISE', false, true)] : []),
  ...AFFINE_PASSES.map((pass) => channelAffineKernel(tuning, pass)),
  channelAffineKernel(tuning, 'APPLY', false),
];
