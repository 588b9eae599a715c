// conv2d and convTranspose2d: every kernel size, stride and padding shape, odd sizes, channel
// counts off the 4-channel blocks, batch 1-3, with and without bias, each activation.
// Bounds (multilinear.ts): an output sums Cin·kh·kw products plus the bias; dx sums at most
// Cout·kh·kw, dw and db one term per output pixel of the batch.
import { conv2d, convTranspose2d, type Conv2dOptions, type ConvTranspose2dOptions } from '../../../engine/ops/conv.ts';
import * as ref from '../../../engine/reference/conv.ts';
import type { Nd } from '../../../engine/reference/nd.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { OpCase } from '../../helpers/op-case.ts';
import { activateNd, activationGrad, type Activation } from './bounds.ts';
import { multilinearBounds } from './multilinear.ts';

type Padding = NonNullable<Conv2dOptions['padding']>;

interface ConvShape {
  /** x [N, Cin, H, W] */
  x: number[];
  cout: number;
  k: number | [number, number];
  stride: number;
  padding: Padding;
}

const kernelShape = (k: ConvShape['k']): [number, number] => (typeof k === 'number' ? [k, k] : k);

const SHAPES: ConvShape[] = [
  { x: [1, 1, 7, 7], cout: 3, k: 3, stride: 1, padding: 1 },
  { x: [3, 3, 13, 13], cout: 10, k: 3, stride: 1, padding: 1 },
  { x: [1, 10, 28, 28], cout: 20, k: 3, stride: 2, padding: 1 },
  { x: [3, 20, 13, 7], cout: 1, k: 3, stride: 2, padding: 0 },
  { x: [3, 3, 7, 13], cout: 20, k: 1, stride: 1, padding: 0 },
  { x: [1, 20, 13, 13], cout: 10, k: 1, stride: 2, padding: 0 },
  { x: [3, 10, 14, 14], cout: 3, k: 2, stride: 2, padding: 0 },
  { x: [1, 3, 13, 7], cout: 10, k: 2, stride: 1, padding: 1 },
  { x: [3, 1, 28, 28], cout: 20, k: 3, stride: 1, padding: 2 },
  { x: [1, 10, 13, 13], cout: 3, k: 3, stride: 2, padding: [0, 1, 1, 0] },
  { x: [3, 3, 13, 7], cout: 10, k: 3, stride: 1, padding: [2, 0, 0, 1] },
  { x: [1, 3, 13, 13], cout: 10, k: [2, 3], stride: 1, padding: 1 },
  { x: [3, 10, 13, 13], cout: 20, k: 5, stride: 2, padding: 2 },
  // 100 weight-gradient invocations: two workgroups, each summing two batch slices.
  { x: [2, 20, 13, 13], cout: 20, k: 3, stride: 1, padding: 1 },
  { x: [3, 20, 13, 7], cout: 3, k: 3, stride: 2, padding: 1 },
  { x: [1, 10, 28, 28], cout: 10, k: 3, stride: 2, padding: [0, 1, 1, 0] },
  { x: [3, 1, 13, 7], cout: 3, k: [2, 3], stride: 2, padding: 2 },
  { x: [2, 3, 5, 5], cout: 2, k: 3, stride: 1, padding: 1 },
  { x: [1, 2, 6, 5], cout: 3, k: 3, stride: 2, padding: [1, 0, 0, 1] },
  // Packed weights over 64 KiB, where the tuning reads weights through uniform bindings: 40 × 48 × 9
  // floats in two windows either way round; one 8-channel block of 232 input channels fits no window
  // (storage), its input gradient takes two.
  { x: [1, 48, 5, 6], cout: 40, k: 3, stride: 1, padding: 1 },
  { x: [1, 232, 3, 3], cout: 8, k: 3, stride: 1, padding: 1 },
  // The kernels read whole vec4s around each row segment: x and the output fill their buffers
  // exactly (the loads run past the end), and rows narrower than a vec4 or than the padding.
  { x: [1, 1, 8, 8], cout: 4, k: 3, stride: 1, padding: 1 },
  { x: [2, 3, 3, 1], cout: 2, k: 3, stride: 1, padding: [2, 1, 1, 2] },
];

/** Bias and activation cycle over the shapes so every combination meets several kernel shapes. */
const EPILOGUES: { bias: boolean; act: Activation }[] = [
  { bias: true, act: 'none' }, { bias: false, act: 'relu' }, { bias: true, act: 'silu' },
  { bias: false, act: 'none' }, { bias: true, act: 'relu' }, { bias: false, act: 'silu' },
];

/** convKernels() precompiles square kernels 1-3 at strides 1 and 2; other shapes compile on first use. */
const precompiled = (kh: number, kw: number, stride: number) => kh === kw && kh <= 3 && stride <= 2;
const LATE = 'conv kernels are specialised per kernel size; convKernels() precompiles only the square 1-3 the models use';

const sides = (p: Padding): [number, number, number, number] => (typeof p === 'number' ? [p, p, p, p] : p);

function convCase(s: ConvShape, { bias, act }: (typeof EPILOGUES)[number]): OpCase {
  const [kh, kw] = kernelShape(s.k);
  const opts = { stride: s.stride, padding: s.padding };
  const [N, Cin, H, W] = s.x;
  const [top, bottom, left, right] = sides(s.padding);
  const outPixels = N * (Math.floor((H + top + bottom - kh) / s.stride) + 1) * (Math.floor((W + left + right - kw) / s.stride) + 1);
  const pre = (xs: Nd[]) => ref.conv2d(xs[0], xs[1], bias ? xs[2] : undefined, opts);
  const preGrads = (xs: Nd[], g: Nd) => {
    const { dx, dw, db } = ref.conv2dBackward(xs[0], xs[1], g, opts);
    return bias ? [dx, dw, db] : [dx, dw];
  };
  return {
    op: 'conv2d',
    compilesLate: precompiled(kh, kw, s.stride) ? undefined : LATE,
    name: `conv2d [${s.x}]→${s.cout} k${kh}×${kw} s${s.stride} p${s.padding}${bias ? ' +bias' : ''} ${act}`,
    make: (random) => ({
      inputs: [randomNd(random, s.x), randomNd(random, [s.cout, Cin, kh, kw], 0.5), ...(bias ? [randomNd(random, [s.cout])] : [])],
      gpu: ([x, w, b]) => conv2d(x, w, b, { ...opts, activation: act }),
      ref: (xs) => activateNd(act, pre(xs)),
      refGrads: (xs, g) => preGrads(xs, activationGrad(act, pre(xs).data, g)),
      bounds: multilinearBounds({ pre, preGrads, K: Cin * kh * kw + 1, gradK: [s.cout * kh * kw, outPixels, outPixels] }, act),
      finiteDiff: act !== 'relu',
    }),
  };
}

interface TransposeShape {
  x: number[];
  cout: number;
  k: number;
  opts: ConvTranspose2dOptions;
}

const TRANSPOSE_SHAPES: TransposeShape[] = [
  { x: [3, 20, 3, 3], cout: 10, k: 2, opts: { stride: 2 } },
  { x: [1, 10, 7, 7], cout: 3, k: 2, opts: { stride: 2 } },
  { x: [3, 3, 14, 14], cout: 1, k: 2, opts: { stride: 2 } },
  { x: [3, 10, 7, 7], cout: 20, k: 3, opts: { stride: 2, padding: 1, outputPadding: 1 } },
  { x: [1, 3, 13, 7], cout: 10, k: 3, opts: { stride: 1, padding: 1 } },
  { x: [3, 10, 7, 13], cout: 3, k: 3, opts: { stride: 2 } },
  { x: [1, 20, 6, 6], cout: 3, k: 4, opts: { stride: 2, padding: 1 } },
  { x: [3, 3, 7, 7], cout: 10, k: 5, opts: { stride: 1, padding: 3 } },
  { x: [3, 3, 7, 7], cout: 10, k: 3, opts: { stride: 1, padding: 3 } },
  { x: [1, 3, 7, 5], cout: 4, k: 2, opts: { stride: 2, padding: 2 } },
  { x: [2, 3, 3, 4], cout: 2, k: 3, opts: { stride: 2, padding: 1, outputPadding: 1 } },
];

/** An output sums Cin·k² products (fewer with stride) plus the bias; dw and db one term per pixel pair. */
function transposeCase(s: TransposeShape, bias: boolean): OpCase {
  const [N, Cin, H, W] = s.x;
  const { stride = 1, padding = 0, outputPadding = 0 } = s.opts;
  const outPixels = N * ((H - 1) * stride - 2 * padding + s.k + outputPadding) * ((W - 1) * stride - 2 * padding + s.k + outputPadding);
  const pre = (xs: Nd[]) => ref.convTranspose2d(xs[0], xs[1], bias ? xs[2] : undefined, s.opts);
  const preGrads = (xs: Nd[], g: Nd) => {
    const { dx, dw, db } = ref.convTranspose2dBackward(xs[0], xs[1], g, s.opts);
    return bias ? [dx, dw, db] : [dx, dw];
  };
  return {
    op: 'convTranspose2d',
    compilesLate: precompiled(s.k, s.k, stride) ? undefined : LATE,
    name: `convTranspose2d [${s.x}]→${s.cout} k${s.k} ${JSON.stringify(s.opts)}${bias ? ' +bias' : ''}`,
    make: (random) => ({
      inputs: [randomNd(random, s.x), randomNd(random, [Cin, s.cout, s.k, s.k], 0.5), ...(bias ? [randomNd(random, [s.cout])] : [])],
      gpu: ([x, w, b]) => convTranspose2d(x, w, b, s.opts),
      ref: pre,
      refGrads: preGrads,
      bounds: multilinearBounds({ pre, preGrads, K: Cin * s.k * s.k + 1, gradK: [s.cout * s.k * s.k, N * H * W, outPixels] }),
    }),
  };
}

export const CONV_CASES: OpCase[] = [
  ...SHAPES.map((s, i) => convCase(s, EPILOGUES[i % EPILOGUES.length])),
  ...TRANSPOSE_SHAPES.map((s, i) => transposeCase(s, i % 2 === 0)),
];
