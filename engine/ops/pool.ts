// 2×2 average and max pooling, nearest ×2 upsampling (shaders/pool.wgsl) with their gradients, and
// global average pooling (a mean over H and W).
import { record } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { FLAT_WG, empty, flatGrid } from './common.ts';
import { mean } from './reduce.ts';

const MOVEMENTS = ['WINDOW_SUM', 'WINDOW_MAX', 'SPREAD', 'MAX_BACKWARD'] as const;
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

/** Launches one movement writing a fresh [n, c, outH, outW] tensor from src planes of inH × inW. */
function run(movement: Movement, inputs: Tensor[], n: number, c: number, outH: number, outW: number, inH: number, inW: number, scale = 1): Tensor {
  const engine = inputs[0].engine;
  const out = empty(engine, [n, c, outH, outW], `pool_${movement.toLowerCase()}`);
  const { groups, groupsX } = flatGrid(engine, out.size);
  engine.dispatch(poolKernel(movement), [...inputs, out], new Uniforms().u32(out.size, groupsX, outH, outW, inH, inW).f32(scale), groups);
  return out;
}

/** Mean of each 2×2 window, stride 2; odd H or W drops the last row or column (PyTorch's floor). */
export function avgPool2x2(x: Tensor): Tensor {
  const [n, c, h, w] = planes('avgPool2x2', x);
  const [oh, ow] = [Math.floor(h / 2), Math.floor(w / 2)];
  const out = run('WINDOW_SUM', [x], n, c, oh, ow, h, w, 0.25);
  return record('avgPool2x2', [x], out, (g) => [run('SPREAD', [g], n, c, h, w, oh, ow, 0.25)]);
}

/** Max of each 2×2 window, stride 2; the gradient goes to the first maximum of each window. */
export function maxPool2x2(x: Tensor): Tensor {
  const [n, c, h, w] = planes('maxPool2x2', x);
  const [oh, ow] = [Math.floor(h / 2), Math.floor(w / 2)];
  const out = run('WINDOW_MAX', [x], n, c, oh, ow, h, w);
  return record('maxPool2x2', [x], out, (g) => [run('MAX_BACKWARD', [x, g], n, c, h, w, oh, ow)]);
}

/** Each pixel repeated into a 2×2 block. */
export function upsampleNearest2x(x: Tensor): Tensor {
  const [n, c, h, w] = planes('upsampleNearest2x', x);
  const out = run('SPREAD', [x], n, c, 2 * h, 2 * w, h, w);
  return record('upsampleNearest2x', [x], out, (g) => [run('WINDOW_SUM', [g], n, c, h, w, 2 * h, 2 * w)]);
}

/** Mean over H and W: [N, C, H, W] → [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  planes('globalAvgPool', x);
  return mean(x, [2, 3]);
}

export const poolKernels = (): KernelSpec[] => MOVEMENTS.map(poolKernel);
