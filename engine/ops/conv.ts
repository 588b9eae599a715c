// conv2d and convTranspose2d (NCHW, PyTorch weight layouts) with gradients, on the three passes of
// shaders/conv2d.wgsl: FORWARD, TRANSPOSED (ConvTranspose2d = conv2d's input gradient) and
// WEIGHT_GRAD. Each op's backward reuses the other's forward pass. FORWARD and TRANSPOSED read
// their input as it is (the kernels zero what lies outside the image); WEIGHT_GRAD reads zero-padded
// copies of its input and output gradient. FORWARD and TRANSPOSED read the weight repacked as vec4s
// over output channels so the inner loops load whole vec4s of weights; the packed copy is cached on
// the weight's storage and remade only after the weight is written (Tensor.derivedBuffer), so a
// loaded model packs once and a trained one once per update.
// The three passes are recorded ops whose gradients are each other (all bilinear), so a tape can
// differentiate a gradient through a convolution again.
import { recordDifferentiable } from '../autograd.ts';
import { Uniforms, type BufferWindow, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { empty, flatGrid } from './common.ts';
import type { ConvTile, Tuning } from './tuning.ts';
import type { Activation } from './matmul.ts';
import { sum } from './reduce.ts';
import { silu, unaryBackward } from './unary.ts';
import { add } from './binary.ts';

export type ConvPass = 'forward' | 'transposed' | 'weightGrad';

/** Workgroup size of every conv kernel (the shader's @workgroup_size). */
const WG = 64;

type Variant = ConvPass | 'pad' | 'pack';

/** What FORWARD / TRANSPOSED add to the sum before the activation. */
interface Epilogue {
  bias: boolean;
  residual: boolean;
  /** A per-sample channel vector [N, Cout] (FORWARD). */
  sampleBias: boolean;
  activation: Activation;
}

const PLAIN: Epilogue = { bias: false, residual: false, sampleBias: false, activation: 'none' };

/** Binding slots of the optional operands: x, w, then bias, residual and sample bias where present, then out and the uniforms. */
function bindingSlots({ bias, residual, sampleBias }: Epilogue): Record<string, number> {
  const biasAt = 2;
  const residualAt = biasAt + (bias ? 1 : 0);
  const sampleBiasAt = residualAt + (residual ? 1 : 0);
  const outAt = sampleBiasAt + (sampleBias ? 1 : 0);
  return { BIAS_AT: biasAt, RESIDUAL_AT: residualAt, SAMPLE_BIAS_AT: sampleBiasAt, OUT_AT: outAt, PARAMS_AT: outAt + 1 };
}

/** Bytes one uniform buffer binding holds: 64 KiB, maxUniformBufferBindingSize on every WebGPU device. */
const UNIFORM_BYTES = 65536;
/** minUniformBufferOffsetAlignment as every device gives it unless asked for less. */
const UNIFORM_OFFSET_ALIGN = 256;

function variantKernel(variant: Variant, kh: number, kw: number, stride: number, epilogue: Epilogue, tile: ConvTile, stagedVec4s: number, uniformWeights: boolean, unroll: boolean): KernelSpec {
  const { bias, residual, sampleBias, activation } = epilogue;
  const staging = variant === 'forward' || variant === 'transposed';
  if (staging && stagedVec4s > 0 && stagedVec4s < kh * kw * (tile.channels / 4)) {
    throw new RangeError(`conv: ${stagedVec4s} staged vec4s cannot hold one input channel of a ${kh}×${kw} kernel × ${tile.channels} channels`);
  }
  return {
    op: `conv2d_${variant}`,
    shader: 'conv2d',
    defines: {
      PAD: variant === 'pad',
      PACK: variant === 'pack',
      TRANSPOSED: variant === 'transposed',
      WEIGHT_GRAD: variant === 'weightGrad',
      KH: kh,
      KW: kw,
      S: stride,
      TCO: tile.channels,
      NV: tile.vec4Pixels,
      // Only the passes that stage weights declare the array; the others keep one pipeline each.
      STAGED_VEC4S: staging ? stagedVec4s : 0,
      UNIFORM_WEIGHTS: staging && uniformWeights,
      UNIFORM_VEC4S: UNIFORM_BYTES / 16,
      BIAS: bias,
      RESIDUAL: residual,
      SAMPLE_BIAS: sampleBias,
      ...bindingSlots(epilogue),
      RELU: activation === 'relu',
      SILU: activation === 'silu',
      UNROLL: staging && unroll,
    },
  };
}

/** `uniformWeights`: FORWARD / TRANSPOSED read the packed weight from a uniform buffer (see packed()). */
export function convKernel(tuning: Tuning, tile: ConvTile, pass: ConvPass, kh: number, kw: number, stride: number, epilogue: Partial<Epilogue> = {}, uniformWeights = false): KernelSpec {
  if (tile.channels % 4) throw new RangeError(`conv tile: ${tile.channels} channels is not a multiple of 4`);
  const full = { ...PLAIN, ...epilogue };
  if ((full.residual || full.sampleBias) && pass !== 'forward') throw new RangeError(`conv: only the forward pass adds a residual or a per-sample bias`);
  return variantKernel(pass, kh, kw, stride, full, tile, tuning.conv.stagedVec4s, uniformWeights, tuning.unroll);
}

// The weight copy uses no tap or tile constant; fixed values keep it one pipeline.
const NEUTRAL_TILE: ConvTile = { channels: 4, vec4Pixels: 1 };
const padKernel = variantKernel('pad', 1, 1, 1, PLAIN, NEUTRAL_TILE, 0, false, false);
const packKernel = variantKernel('pack', 1, 1, 1, PLAIN, NEUTRAL_TILE, 0, false, false);

/** Where a kernel sits on the input: stride and the padding before the first row and column. */
interface Placement {
  stride: number;
  padTop: number;
  padLeft: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/**
 * A zero-filled [N, C, Hp, Wp] copy of x [N, C, H, W] (Wp a multiple of 4) holding x[.., r, c] at
 * [.., r + top, c + left]; negative offsets crop.
 */
function padded(x: Tensor, top: number, left: number, Hp: number, Wp: number): Tensor {
  const [N, C, H, W] = x.shape;
  const out = empty(x.engine, [N, C, Hp, Wp], 'conv2d_pad');
  const size4 = out.size / 4;
  const { groups, groupsX } = flatGrid(x.engine, size4, WG);
  x.engine.dispatch(padKernel, [x, out], new Uniforms().u32(H, W, Hp, Wp / 4).i32(top, left).u32(size4, groupsX), groups);
  return out;
}

/** The packed weight as the kernels bind it: windows of whole output-channel blocks, one dispatch each. */
interface PackedWeight {
  /** Read through uniform bindings; else one window, the whole buffer as storage. */
  uniform: boolean;
  windows: { block0: number; blocks: number; binding: GPUBuffer | BufferWindow }[];
}

/** Output-channel blocks per uniform window: all when they fit, else the most whose bytes keep offsets aligned; 0: none fit. */
function blocksPerWindow(blocks: number, blockBytes: number): number {
  if (blocks * blockBytes <= UNIFORM_BYTES) return blocks;
  for (let k = Math.floor(UNIFORM_BYTES / blockBytes); k >= 1; k--) if ((k * blockBytes) % UNIFORM_OFFSET_ALIGN === 0) return k;
  return 0;
}

/**
 * The weight as vec4s over output channels in blocks of `blockChannels`:
 * [block][ci][ky][kx][blockChannels / 4] holds the taps joining input channel ci to the block's
 * output channels (zero past the last). `outAxis` says which weight axis is the output. Where the
 * tuning reads weights from uniform buffers, the buffer is bound in windows of 64 KiB (the shader
 * declares a fixed-size array), so it extends to the last window's end.
 */
function packed(w: Tensor, outAxis: 0 | 1, blockChannels: number): PackedWeight {
  const [A, B, KH, KW] = w.shape;
  const taps = KH * KW;
  const [Cout, Cin] = outAxis === 0 ? [A, B] : [B, A];
  const [sCo, sCi] = outAxis === 0 ? [B * taps, taps] : [taps, B * taps];
  const blocks = ceilDiv(Cout, blockChannels);
  const size4 = (blocks * Cin * taps * blockChannels) / 4;
  const blockBytes = Cin * taps * blockChannels * 4;
  const perWindow = w.engine.tuning.conv.uniformWeights ? blocksPerWindow(blocks, blockBytes) : 0;
  const starts = perWindow ? Array.from({ length: ceilDiv(blocks, perWindow) }, (_, i) => i * perWindow) : [0];
  const bytes = perWindow ? starts.at(-1)! * blockBytes + UNIFORM_BYTES : size4 * 16;
  const buffer = w.derivedBuffer(`conv2d_pack [${w.shape}] out ${outAxis} block ${blockChannels}`, bytes, (out) => {
    const { groups, groupsX } = flatGrid(w.engine, size4, WG);
    w.engine.dispatch(packKernel, [w, out], new Uniforms().u32(Cout, Cin, taps, blockChannels / 4, sCo, sCi, size4, groupsX), groups);
  });
  if (!perWindow) return { uniform: false, windows: [{ block0: 0, blocks, binding: buffer }] };
  return {
    uniform: true,
    windows: starts.map((block0) => ({
      block0,
      blocks: Math.min(perWindow, blocks - block0),
      binding: starts.length === 1 ? buffer : { buffer, offset: block0 * blockBytes, size: UNIFORM_BYTES },
    })),
  };
}

/** The size of a square kernel, 0 for other shapes (the tile rules' key). */
const squareKernel = (kh: number, kw: number) => (kh === kw ? kh : 0);

/** Vec4s an input row segment spans: `taps` taps of `pixels` outputs `step` input columns apart. */
const segmentVec4s = (pixels: number, step: number, taps: number) => ceilDiv(step * (pixels - 1) + taps, 4);

/** out [N, Cout, OH, OW] = act(conv(x [N, Cin, H, W], w [Cout, Cin, KH, KW]) (+ bias) (+ residual) (+ sampleBias [N, Cout] per image)). */
function forwardRaw(x: Tensor, w: Tensor, bias: Tensor | undefined, at: Placement, OH: number, OW: number, activation: Activation, residual?: Tensor, sampleBias?: Tensor): Tensor {
  const [N, Cin, H, W] = x.shape;
  const [Cout, , KH, KW] = w.shape;
  const S = at.stride;
  const { conv } = x.engine.tuning;
  const tile = conv.forward({ kernel: squareKernel(KH, KW), stride: S, outChannels: Cout, outWidth: OW });
  const tilesX = ceilDiv(OW, 4 * tile.vec4Pixels);
  const tiles = N * OH * tilesX;
  const wp = packed(w, 0, tile.channels);
  const out = empty(x.engine, [N, Cout, OH, OW], 'conv2d');
  const { groups, groupsX } = flatGrid(x.engine, tiles, WG);
  const kernel = convKernel(x.engine.tuning, tile, 'forward', KH, KW, S, { bias: !!bias, residual: !!residual, sampleBias: !!sampleBias, activation }, wp.uniform);
  for (const { block0, blocks, binding } of wp.windows) {
    const u = new Uniforms().u32(Cin, H, W, Cout, OH, OW, tilesX, OH, tiles, groupsX, at.padTop, at.padLeft, block0);
    const operands = [x, binding, ...(bias ? [bias] : []), ...(residual ? [residual] : []), ...(sampleBias ? [sampleBias] : []), out];
    x.engine.dispatch(kernel, operands, u, [...groups, blocks]);
  }
  return out;
}

/**
 * out [N, Cout, OH, OW] with out[y, x] += x[i, j] · w[ci, co, ky, kx] where y = i·S − padTop + ky,
 * x = j·S − padLeft + kx, for w [Cin, Cout, KH, KW] (ConvTranspose2d's layout).
 */
function transposedRaw(x: Tensor, w: Tensor, bias: Tensor | undefined, at: Placement, OH: number, OW: number): Tensor {
  const [N, Cin, H, W] = x.shape;
  const [, Cout, KH, KW] = w.shape;
  const S = at.stride;
  const { conv } = x.engine.tuning;
  const tile = conv.transposed({ kernel: squareKernel(KH, KW), stride: S, outChannels: Cout, outWidth: OW });
  // Each of the S×S phases covers every S-th output row and column.
  const tileRows = ceilDiv(OH, S);
  const tilesX = ceilDiv(ceilDiv(OW, S), 4 * tile.vec4Pixels);
  const tiles = N * tileRows * tilesX;
  const wp = packed(w, 1, tile.channels);
  const out = empty(x.engine, [N, Cout, OH, OW], 'conv_transpose2d');
  const { groups, groupsX } = flatGrid(x.engine, tiles, WG);
  const kernel = convKernel(x.engine.tuning, tile, 'transposed', KH, KW, S, { bias: !!bias }, wp.uniform);
  for (const { block0, blocks, binding } of wp.windows) {
    const u = new Uniforms().u32(Cin, H, W, Cout, OH, OW, tilesX, tileRows, tiles, groupsX, at.padTop, at.padLeft, block0);
    x.engine.dispatch(kernel, bias ? [x, binding, bias, out] : [x, binding, out], u, [...groups, blocks * S * S]);
  }
  return out;
}

/** dw [Cg, Cin, KH, KW] = Σ g[n, cg, oy, ox] · x[n, ci, oy·S − padTop + ky, ox·S − padLeft + kx]. */
function weightGradRaw(g: Tensor, x: Tensor, at: Placement, KH: number, KW: number): Tensor {
  const [N, Cout, OH, OW] = g.shape;
  const Cin = x.shape[1];
  const S = at.stride;
  const { weightGrad: tile, weightGradWorkgroups } = x.engine.tuning.conv;
  const P = 4 * tile.vec4Pixels;
  const chunks = ceilDiv(OW, P);
  const Hp = (OH - 1) * S + KH;
  const Wp = (chunks - 1) * P * S + 4 * segmentVec4s(P, S, KW);
  const xp = padded(x, at.padTop, at.padLeft, Hp, Wp);
  const gp = padded(g, 0, 0, OH, chunks * P);
  // One invocation per (output-channel block, input channel); batch slices add workgroups when those are few.
  const cells = ceilDiv(Cout, tile.channels) * Cin;
  const cellGroups = ceilDiv(cells, WG);
  const wanted = Math.min(N, ceilDiv(weightGradWorkgroups, cellGroups));
  const batchPerSlice = ceilDiv(N, wanted);
  const slices = ceilDiv(N, batchPerSlice);
  const partial = empty(x.engine, [slices, Cout * Cin * KH * KW], 'conv2d_weight_grad');
  const u = new Uniforms().u32(Cin, Hp, Wp / 4, Cout, OH, chunks * tile.vec4Pixels, N, batchPerSlice, cells);
  x.engine.dispatch(convKernel(x.engine.tuning, tile, 'weightGrad', KH, KW, S), [gp, xp, partial], u, [cellGroups, slices]);
  xp.dispose();
  gp.dispose();
  if (slices === 1) return viewOwned(partial, [Cout, Cin, KH, KW]);
  const total = sum(partial, [0]);
  partial.dispose();
  return viewOwned(total, [Cout, Cin, KH, KW]);
}

/** A view of t with another shape; t itself is disposed. */
function viewOwned(t: Tensor, shape: number[]): Tensor {
  const v = t.view(shape);
  t.dispose();
  return v;
}

/**
 * conv2d's weight gradient for x [N, Cin, H, W] and gradOut [N, Cout, OH, OW] (like
 * torch.nn.grad.conv2d_weight; no autograd). The backward pass of conv2d launches the same kernel.
 */
export function conv2dWeightGrad(x: Tensor, weightShape: readonly number[], gradOut: Tensor, opts: { stride?: number; padding?: number } = {}): Tensor {
  const { stride = 1, padding = 0 } = opts;
  checkStride('conv2dWeightGrad', stride);
  const [Cout, Cin, KH, KW] = weightShape;
  if (x.rank !== 4 || gradOut.rank !== 4 || x.shape[1] !== Cin || gradOut.shape[1] !== Cout || x.shape[0] !== gradOut.shape[0]) {
    throw new RangeError(`conv2dWeightGrad: x [${x.shape}] and gradOut [${gradOut.shape}] do not match weight [${weightShape}]`);
  }
  return weightGradRaw(gradOut, x, { stride, padTop: padding, padLeft: padding }, KH, KW);
}

/** conv(x, w) with no epilogue, recorded: the convolution the other passes' gradients need. */
function forwardOp(x: Tensor, w: Tensor, at: Placement, OH: number, OW: number): Tensor {
  const out = forwardRaw(x, w, undefined, at, OH, OW, 'none');
  return recordDifferentiable('conv2d', [x, w], out, (g) => [
    x.requiresGrad ? transposedOp(g, w, undefined, at, x.shape[2], x.shape[3]) : null,
    w.requiresGrad ? weightGradOp(g, x, at, w.shape[2], w.shape[3]) : null,
  ]);
}

/** The transposed pass, recorded: its adjoint in x is the forward pass, in w the weight gradient with x and g swapped. */
function transposedOp(x: Tensor, w: Tensor, bias: Tensor | undefined, at: Placement, OH: number, OW: number): Tensor {
  const out = transposedRaw(x, w, bias, at, OH, OW);
  return recordDifferentiable('conv_transpose2d', bias ? [x, w, bias] : [x, w], out, (g) => [
    x.requiresGrad ? forwardOp(g, w, at, x.shape[2], x.shape[3]) : null,
    w.requiresGrad ? weightGradOp(x, g, at, w.shape[2], w.shape[3]) : null,
    ...(bias ? [biasGrad(g, bias)] : []),
  ]);
}

/** The weight gradient of conv(x, ·) at output gradient g, recorded: ⟨gw, dw⟩ = ⟨g, conv(x, gw)⟩ = ⟨transposed(g, gw), x⟩. */
function weightGradOp(g: Tensor, x: Tensor, at: Placement, KH: number, KW: number): Tensor {
  const dw = weightGradRaw(g, x, at, KH, KW);
  return recordDifferentiable('conv2d_weight_grad', [g, x], dw, (gw) => [
    g.requiresGrad ? forwardOp(x, gw, at, g.shape[2], g.shape[3]) : null,
    x.requiresGrad ? transposedOp(g, gw, undefined, at, x.shape[2], x.shape[3]) : null,
  ]);
}

/** The gradient of a bias broadcast over `dims` of the output: g summed over them, if the bias wants one. */
const sumGrad = (g: Tensor, t: Tensor, dims: number[]) => (t.requiresGrad ? sum(g, dims) : null);
const biasGrad = (g: Tensor, bias: Tensor) => sumGrad(g, bias, [0, 2, 3]);

function checkOperands(op: string, x: Tensor, w: Tensor, inChannelsAxis: number, outChannelsAxis: number, bias: Tensor | undefined): void {
  if (x.rank !== 4 || w.rank !== 4) throw new RangeError(`${op}: expected x [N,C,H,W] and a rank-4 weight, got [${x.shape}] and [${w.shape}]`);
  if (x.shape[1] !== w.shape[inChannelsAxis]) throw new RangeError(`${op}: x has ${x.shape[1]} channels, weight [${w.shape}] expects ${w.shape[inChannelsAxis]}`);
  if (bias && bias.size !== w.shape[outChannelsAxis]) throw new RangeError(`${op}: bias has ${bias.size} values for ${w.shape[outChannelsAxis]} channels`);
}

function checkStride(op: string, stride: number): void {
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`${op}: stride must be a positive integer, got ${stride}`);
}

export interface Conv2dOptions {
  stride?: number;
  /** Zero padding: all sides, or [top, bottom, left, right]. */
  padding?: number | [number, number, number, number];
  /** Added to the output before the activation (a residual block's skip); the output's shape. */
  residual?: Tensor;
  /** [N, Cout]: added to every pixel of image n's channel co before the activation (a UNet's time vector). */
  sampleBias?: Tensor;
  activation?: Activation;
}

/**
 * PyTorch Conv2d: x [N, Cin, H, W], weight [Cout, Cin, KH, KW], bias [Cout] → [N, Cout, OH, OW],
 * then + residual and the activation, fused into the kernel's epilogue (SiLU only when nothing records gradients).
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, opts: Conv2dOptions = {}): Tensor {
  const { stride = 1, padding = 0, activation = 'none', residual, sampleBias } = opts;
  checkOperands('conv2d', x, weight, 1, 0, bias);
  checkStride('conv2d', stride);
  const [top, bottom, left, right] = typeof padding === 'number' ? [padding, padding, padding, padding] : padding;
  if (![top, bottom, left, right].every((v) => Number.isInteger(v) && v >= 0)) throw new RangeError(`conv2d: invalid padding ${padding}`);
  const [, , H, W] = x.shape;
  const [, , KH, KW] = weight.shape;
  const OH = Math.floor((H + top + bottom - KH) / stride) + 1;
  const OW = Math.floor((W + left + right - KW) / stride) + 1;
  if (OH < 1 || OW < 1) throw new RangeError(`conv2d: a ${KH}×${KW} kernel does not fit the padded ${H}×${W} input`);
  const at: Placement = { stride, padTop: top, padLeft: left };
  if (residual && (residual.rank !== 4 || residual.shape.some((d, i) => d !== [x.shape[0], weight.shape[0], OH, OW][i]))) {
    throw new RangeError(`conv2d: residual [${residual.shape}] must have the output's shape [${x.shape[0]},${weight.shape[0]},${OH},${OW}]`);
  }
  if (sampleBias && (sampleBias.rank !== 2 || sampleBias.shape[0] !== x.shape[0] || sampleBias.shape[1] !== weight.shape[0])) {
    throw new RangeError(`conv2d: sampleBias [${sampleBias.shape}] must be [${x.shape[0]},${weight.shape[0]}] (images × output channels)`);
  }

  const differentiating = !!x.engine.tape && [x, weight, bias, residual, sampleBias].some((t) => t?.requiresGrad);
  if (activation === 'silu' && differentiating) {
    // SiLU's derivative needs the pre-activation, so its epilogue stays unfused when recording.
    const conv = conv2d(x, weight, bias, { stride, padding, sampleBias });
    return silu(residual ? add(conv, residual) : conv);
  }
  const out = forwardRaw(x, weight, bias, at, OH, OW, activation, residual, sampleBias);
  const inputs = [x, weight, ...(bias ? [bias] : []), ...(residual ? [residual] : []), ...(sampleBias ? [sampleBias] : [])];
  return recordDifferentiable('conv2d', inputs, out, (gOut) => {
    // ReLU's derivative is readable from its output (out > 0 exactly where the pre-activation is), so it fuses too.
    const g = activation === 'relu' ? unaryBackward('RELU', out, gOut) : gOut;
    return [
      x.requiresGrad ? transposedOp(g, weight, undefined, at, H, W) : null,
      weight.requiresGrad ? weightGradOp(g, x, at, KH, KW) : null,
      ...(bias ? [biasGrad(g, bias)] : []),
      ...(residual ? [g] : []),
      ...(sampleBias ? [sumGrad(g, sampleBias, [2, 3])] : []),
    ];
  });
}

export interface ConvTranspose2dOptions {
  stride?: number;
  padding?: number;
  outputPadding?: number;
}

/**
 * PyTorch ConvTranspose2d: x [N, Cin, H, W], weight [Cin, Cout, KH, KW], bias [Cout] →
 * [N, Cout, (H−1)·stride − 2·padding + KH + outputPadding, likewise W].
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor, opts: ConvTranspose2dOptions = {}): Tensor {
  const { stride = 1, padding = 0, outputPadding = 0 } = opts;
  checkOperands('convTranspose2d', x, weight, 0, 1, bias);
  checkStride('convTranspose2d', stride);
  if (!Number.isInteger(padding) || padding < 0) throw new RangeError(`convTranspose2d: invalid padding ${padding}`);
  if (!Number.isInteger(outputPadding) || outputPadding < 0 || outputPadding >= stride) {
    throw new RangeError(`convTranspose2d: outputPadding must be an integer in [0, stride), got ${outputPadding}`);
  }
  const [, , H, W] = x.shape;
  const [, , KH, KW] = weight.shape;
  const OH = (H - 1) * stride - 2 * padding + KH + outputPadding;
  const OW = (W - 1) * stride - 2 * padding + KW + outputPadding;
  if (OH < 1 || OW < 1) throw new RangeError(`convTranspose2d: output would be ${OH}×${OW}`);
  const at: Placement = { stride, padTop: padding, padLeft: padding };
  // The transposed conv's adjoint is the conv with the same weight read as [Cout=Cin, Cin=Cout, ..];
  // its weight gradient is conv2d's with the roles of input and output swapped.
  return transposedOp(x, weight, bias, at, OH, OW);
}

/**
 * Residual blocks add their skip (with a bias) after a 3×3 or 1×1 conv, and UNet down-convs (2×2
 * stride 2) the next level's time vector; other such epilogues compile on first use.
 */
const forwardEpilogues = (k: number, stride: number): Epilogue[] => [
  ...[false, true].flatMap((bias) => (['none', 'relu', 'silu'] as const).map((activation) => ({ ...PLAIN, bias, activation }))),
  ...(stride === 1 && k !== 2 ? [{ ...PLAIN, bias: true, residual: true }, { ...PLAIN, bias: true, residual: true, activation: 'relu' as const }] : []),
  ...(stride === 2 && k === 2 ? [{ ...PLAIN, bias: true, sampleBias: true }] : []),
];

/** The (square) kernel sizes and strides precompiled; others compile on first use. */
const PRECOMPILED: { k: number; stride: number }[] = [1, 2, 3].flatMap((k) => [1, 2].map((stride) => ({ k, stride })));

/** Where FORWARD / TRANSPOSED may read their weights from: uniform windows where the tuning allows it, else storage. */
const weightSources = (tuning: Tuning): boolean[] => (tuning.conv.uniformWeights ? [false, true] : [false]);

export const convKernels = (tuning: Tuning): KernelSpec[] => [
  padKernel,
  packKernel,
  ...PRECOMPILED.flatMap(({ k, stride }) => [
    ...tuning.conv.candidates('forward', k, stride).flatMap((tile) =>
      forwardEpilogues(k, stride).flatMap((epilogue) => weightSources(tuning).map((uniform) => convKernel(tuning, tile, 'forward', k, k, stride, epilogue, uniform))),
    ),
    ...tuning.conv.candidates('transposed', k, stride).flatMap((tile) =>
      [false, true].flatMap((bias) => weightSources(tuning).map((uniform) => convKernel(tuning, tile, 'transposed', k, k, stride, { bias }, uniform))),
    ),
    convKernel(tuning, tuning.conv.weightGrad, 'weightGrad', k, k, stride),
  ]),
];
