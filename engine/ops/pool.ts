// 2×2 average and max pooling, nearest ×2 upsampling (shaders/pool.wgsl) with their gradients, and
// global average pooling (a mean over H and W). Every gradient is a recorded op, so a tape can
// differentiate it again: window sums and spreads are each other's adjoints, and max pooling's
// routing to the window maximum is adjoint to gathering from it (constant in x almost everywhere).
import { recordDifferentiable } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { FLAT_WG, empty, flatGrid, full } from './common.ts';
import { mean } from './reduce.ts';

const MOVEMENTS = ['WINDOW_SUM', 'WINDOW_MAX', 'SPREAD', 'MAX_BACKWARD', 'MAX_GATHER'] as const;
type Movement = (typeof MOVEMENTS)[number];

function poolKernel(movement: Movement): KernelSpec {
  const defines: Record<string, boolean | number> = { WG: FLAT_WG };
  for (const m of MOVEMENTS) defines[m] = m === movement;
  return { op: `pool_${movement.toLowerCase()}`, shader: 'pool', defines };
}

function planes(op: string, x: Tensor): [number, number, number, number] {
  if (x.rank !== 4) throw new RangeError(`${op}: expected an [N, C, H, W] tensor, got [${x.shape}]`);
  return x.shape as [number, number, number, number];
}

/**
 * Launches one movement writing a fresh [n, c, outH, outW] tensor from src planes of inH × inW
 * (one invocation per output element; MAX_BACKWARD, per src element: per window).
 */
function run(movement: Movement, inputs: Tensor[], n: number, c: number, outH: number, outW: number, inH: number, inW: number, scale = 1): Tensor {
  const engine = inputs[0].engine;
  const invocations = movement === 'MAX_BACKWARD' ? n * c * inH * inW : n * c * outH * outW;
  // An input too small for any window gets no gradient, and no window invocation would write the zeros.
  if (movement === 'MAX_BACKWARD' && invocations === 0) return full(engine, [n, c, outH, outW], 0, 'pool_max_backward');
  const out = empty(engine, [n, c, outH, outW], `pool_${movement.toLowerCase()}`);
  const { groups, groupsX } = flatGrid(engine, invocations);
  engine.dispatch(poolKernel(movement), [...inputs, out], new Uniforms().u32(invocations, groupsX, outH, outW, inH, inW).f32(scale), groups);
  return out;
}

/** scale · the sum of each 2×2 window, stride 2 (floor at odd sizes). */
function windowSum(x: Tensor, scale: number, op = 'windowSum'): Tensor {
  const [n, c, h, w] = planes(op, x);
  const out = run('WINDOW_SUM', [x], n, c, Math.floor(h / 2), Math.floor(w / 2), h, w, scale);
  return recordDifferentiable('windowSum', [x], out, (g) => [spread(g, scale, h, w)]);
}

/** scale · each pixel repeated into a 2×2 block of an h × w output (2× the input, or one more row/column of zeros). */
function spread(x: Tensor, scale: number, h: number, w: number): Tensor {
  const [n, c, ih, iw] = planes('spread', x);
  const out = run('SPREAD', [x], n, c, h, w, ih, iw, scale);
  return recordDifferentiable('spread', [x], out, (g) => [windowSum(g, scale)]);
}

/** Mean of each 2×2 window, stride 2; odd H or W drops the last row or column (PyTorch's floor). */
export const avgPool2x2 = (x: Tensor): Tensor => windowSum(x, 0.25, 'avgPool2x2');

/** Max of each 2×2 window, stride 2; the gradient goes to the first maximum of each window. */
export function maxPool2x2(x: Tensor): Tensor {
  const [n, c, h, w] = planes('maxPool2x2', x);
  const out = run('WINDOW_MAX', [x], n, c, Math.floor(h / 2), Math.floor(w / 2), h, w);
  return recordDifferentiable('maxPool2x2', [x], out, (g) => [maxPoolRoute(x, g)]);
}

/** g [n, c, h/2, w/2] sent to the first maximum of each of x's windows (max pooling's gradient). */
function maxPoolRoute(x: Tensor, g: Tensor): Tensor {
  const [n, c, h, w] = planes('maxPoolRoute', x);
  const out = run('MAX_BACKWARD', [x, g], n, c, h, w, g.shape[2], g.shape[3]);
  return recordDifferentiable('maxPoolRoute', [x, g], out, (gg) => [null, maxPool2x2Gather(x, gg)]);
}

/** [n, c, h/2, w/2]: v at the first maximum of each of x's 2×2 windows (the adjoint of maxPoolRoute in g). */
export function maxPool2x2Gather(x: Tensor, v: Tensor): Tensor {
  const [n, c, h, w] = planes('maxPool2x2Gather', x);
  if (v.shape.some((d, i) => d !== x.shape[i])) throw new RangeError(`maxPool2x2Gather: v [${v.shape}] must have x's shape [${x.shape}]`);
  const out = run('MAX_GATHER', [x, v], n, c, Math.floor(h / 2), Math.floor(w / 2), h, w);
  return recordDifferentiable('maxPool2x2Gather', [x, v], out, (g) => [null, maxPoolRoute(x, g)]);
}

/** Each pixel repeated into a 2×2 block. */
export function upsampleNearest2x(x: Tensor): Tensor {
  const [, , h, w] = planes('upsampleNearest2x', x);
  return spread(x, 1, 2 * h, 2 * w);
}

/** Mean over H and W: [N, C, H, W] → [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  planes('globalAvgPool', x);
  return mean(x, [2, 3]);
}

export const poolKernels = (): KernelSpec[] => MOVEMENTS.map(poolKernel);
