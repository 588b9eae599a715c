// conv2d and convTranspose2d (NCHW, PyTorch weight layouts) with gradients, on the three passes of
// shaders/conv2d.wgsl: FORWARD, TRANSPOSED (ConvTranspose2d = conv2d's input gradient) and
// WEIGHT_GRAD. Each op's backward reuses the other's forward pass.
import { record } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { empty, flatGrid } from './common.ts';
import { convTiling, type ConvTile } from './conv-tuning.ts';
import type { Activation } from './matmul.ts';
import { sum } from './reduce.ts';
import { relu, silu } from './unary.ts';

type Pass = 'forward' | 'transposed' | 'weightGrad';

/** Workgroup size of every conv pass (the shader's @workgroup_size). */
const WG = 64;

export function convKernel(pass: Pass, kw: number, stride: number, bias = false, activation: Activation = 'none', tile: ConvTile = convTiling()[pass]): KernelSpec {
  return {
    op: `conv2d_${pass}`,
    shader: 'conv2d',
    defines: {
      TRANSPOSED: pass === 'transposed',
      WEIGHT_GRAD: pass === 'weightGrad',
      KW: kw,
      S: stride,
      TCO: tile.channels,
      NV: tile.vec4Pixels,
      BIAS: bias,
      RELU: activation === 'relu',
      SILU: activation === 'silu',
    },
  };
}

/** Where a kernel sits on the input: stride and the padding before the first row and column. */
interface Placement {
  stride: number;
  padTop: number;
  padLeft: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** out [N, Cout, OH, OW] = conv(x [N, Cin, H, W], w [Cout, Cin, KH, KW]) (+bias) (→act). */
function forwardRaw(x: Tensor, w: Tensor, bias: Tensor | undefined, at: Placement, OH: number, OW: number, activation: Activation): Tensor {
  const [N, Cin, H, W] = x.shape;
  const [Cout, , KH, KW] = w.shape;
  const tile = convTiling().forward;
  const P = 4 * tile.vec4Pixels;
  const tilesX = ceilDiv(OW, P);
  const tiles = N * OH * tilesX;
  const out = empty(x.engine, [N, Cout, OH, OW], 'conv2d');
  const { groups, groupsX } = flatGrid(x.engine, tiles, WG);
  const u = new Uniforms().u32(Cin, H, W, Cout, OH, OW, at.padTop, at.padLeft, KH, tilesX, OH, tiles, groupsX);
  const kernel = convKernel('forward', KW, at.stride, !!bias, activation, tile);
  x.engine.dispatch(kernel, bias ? [x, w, bias, out] : [x, w, out], u, [...groups, ceilDiv(Cout, tile.channels)]);
  return out;
}

/**
 * out [N, Cout, OH, OW] with out[y, x] += x[i, j] · w[ci, co, ky, kx] where y = i·S − padTop + ky,
 * x = j·S − padLeft + kx, for w [Cin, Cout, KH, KW] (ConvTranspose2d's layout).
 */
function transposedRaw(x: Tensor, w: Tensor, bias: Tensor | undefined, at: Placement, OH: number, OW: number): Tensor {
  const [N, Cin, H, W] = x.shape;
  const [, Cout, KH, KW] = w.shape;
  const tile = convTiling().transposed;
  const S = at.stride;
  const tilesX = ceilDiv(ceilDiv(OW, S), 4 * tile.vec4Pixels);
  const tileRows = ceilDiv(OH, S);
  const tiles = N * tileRows * tilesX;
  const out = empty(x.engine, [N, Cout, OH, OW], 'conv_transpose2d');
  const { groups, groupsX } = flatGrid(x.engine, tiles, WG);
  const u = new Uniforms().u32(Cin, H, W, Cout, OH, OW, at.padTop, at.padLeft, KH, tilesX, tileRows, tiles, groupsX);
  const kernel = convKernel('transposed', KW, S, !!bias, 'none', tile);
  x.engine.dispatch(kernel, bias ? [x, w, bias, out] : [x, w, out], u, [...groups, ceilDiv(Cout, tile.channels) * S * S]);
  return out;
}

/** dw [Cg, Cin, KH, KW] = Σ g[n, cg, oy, ox] · x[n, ci, oy·S − padTop + ky, ox·S − padLeft + kx]. */
function weightGradRaw(g: Tensor, x: Tensor, at: Placement, KH: number, KW: number): Tensor {
  const [N, Cout, OH, OW] = g.shape;
  const [, Cin, H, W] = x.shape;
  const { weightGrad: tile, weightGradWorkgroups } = convTiling();
  const cellGroups = ceilDiv(Cin * KH, WG);
  const channelBlocks = ceilDiv(Cout, tile.channels);
  const wanted = Math.min(N, ceilDiv(weightGradWorkgroups, cellGroups * channelBlocks));
  const batchPerSlice = ceilDiv(N, wanted);
  const slices = ceilDiv(N, batchPerSlice);
  const partial = empty(x.engine, [slices, Cout * Cin * KH * KW], 'conv2d_weight_grad');
  const u = new Uniforms().u32(Cin, H, W, Cout, OH, OW, at.padTop, at.padLeft, KH, N, batchPerSlice);
  x.engine.dispatch(convKernel('weightGrad', KW, at.stride, false, 'none', tile), [g, x, partial], u, [cellGroups, slices, channelBlocks]);
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

const biasGrad = (g: Tensor, bias: Tensor) => (bias.requiresGrad ? sum(g, [0, 2, 3]) : null);

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
  activation?: Activation;
}

/** PyTorch Conv2d: x [N, Cin, H, W], weight [Cout, Cin, KH, KW], bias [Cout] → [N, Cout, OH, OW]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, opts: Conv2dOptions = {}): Tensor {
  const { stride = 1, padding = 0, activation = 'none' } = opts;
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

  const differentiating = !!x.engine.tape && [x, weight, bias].some((t) => t?.requiresGrad);
  if (activation !== 'none' && differentiating) {
    // The activation's derivative needs the pre-activation, so keep it unfused when recording.
    const pre = conv2d(x, weight, bias, { stride, padding });
    return activation === 'relu' ? relu(pre) : silu(pre);
  }
  const out = forwardRaw(x, weight, bias, at, OH, OW, activation);
  return record('conv2d', bias ? [x, weight, bias] : [x, weight], out, (g) => [
    x.requiresGrad ? transposedRaw(g, weight, undefined, at, H, W) : null,
    weight.requiresGrad ? weightGradRaw(g, x, at, KH, KW) : null,
    ...(bias ? [biasGrad(g, bias)] : []),
  ]);
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
  const out = transposedRaw(x, weight, bias, at, OH, OW);
  // The transposed conv's adjoint is the conv with the same weight read as [Cout=Cin, Cin=Cout, ..];
  // its weight gradient is conv2d's with the roles of input and output swapped.
  return record('conv_transpose2d', bias ? [x, weight, bias] : [x, weight], out, (g) => [
    x.requiresGrad ? forwardRaw(g, weight, undefined, at, H, W, 'none') : null,
    weight.requiresGrad ? weightGradRaw(x, g, at, KH, KW) : null,
    ...(bias ? [biasGrad(g, bias)] : []),
  ]);
}

/** The kernel sizes and strides precompiled; others compile on first use. */
const PRECOMPILED: { kw: number; stride: number }[] = [1, 2, 3].flatMap((kw) => [1, 2].map((stride) => ({ kw, stride })));

export const convKernels = (): KernelSpec[] =>
  PRECOMPILED.flatMap(({ kw, stride }) => [
    ...[false, true].flatMap((bias) => (['none', 'relu', 'silu'] as const).map((act) => convKernel('forward', kw, stride, bias, act))),
    ...[false, true].map((bias) => convKernel('transposed', kw, stride, bias)),
    convKernel('weightGrad', kw, stride),
  ]);
