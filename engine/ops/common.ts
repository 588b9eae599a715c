// Helpers every op descriptor uses: tensor creation, upload, flat 1-D grids.
import type { Engine } from '../runtime.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import { Tensor } from '../tensor.ts';
import type { Tuning } from './tuning.ts';

/** Invocations per workgroup for flat elementwise kernels. */
export const FLAT_WG = 256;

/** Workgroup grid covering n items, `run` per invocation and `wg` invocations per workgroup, folded into y above the per-dimension limit. */
export function flatGrid(engine: Engine, n: number, wg = FLAT_WG, run = 1): { groups: [number, number]; groupsX: number } {
  const total = Math.max(1, Math.ceil(n / (wg * run)));
  const limit = engine.gpu.limits.maxComputeWorkgroupsPerDimension;
  if (total <= limit) return { groups: [total, 1], groupsX: total };
  const y = Math.ceil(total / limit);
  const x = Math.ceil(total / y);
  return { groups: [x, y], groupsX: x };
}

export function empty(engine: Engine, shape: readonly number[], label: string): Tensor {
  return new Tensor(engine, shape, label);
}

export function fromArray(engine: Engine, data: ArrayLike<number>, shape: readonly number[], label = 'upload'): Tensor {
  const t = new Tensor(engine, shape, label);
  if (data.length !== t.size) throw new RangeError(`${label}: ${data.length} values for shape [${shape}] (${t.size} expected)`);
  upload(t, data instanceof Float32Array ? data : Float32Array.from(data));
  return t;
}

/** Overwrites all of t with `data` (queued before the next submit's commands), as a write to t. */
export function upload(t: Tensor, data: Float32Array): void {
  if (data.length !== t.size) throw new RangeError(`upload: ${data.length} values for [${t.shape}] (${t.size} expected)`);
  // writeBuffer rejects views of SharedArrayBuffers; copy those first.
  const src = data.buffer instanceof ArrayBuffer ? data : new Float32Array(data);
  t.engine.device.queue.writeBuffer(t.gpuBuffer(), 0, src.buffer, src.byteOffset, src.byteLength);
  t.markWritten();
}

export const fillKernel = (tuning: Tuning): KernelSpec => ({ op: 'fill', shader: 'fill', defines: { WG: FLAT_WG, RUN: tuning.flatRun } });

export function full(engine: Engine, shape: readonly number[], value: number, label = 'full'): Tensor {
  const t = new Tensor(engine, shape, label);
  const { groups, groupsX } = flatGrid(engine, t.size, FLAT_WG, engine.tuning.flatRun);
  engine.dispatch(fillKernel(engine.tuning), [t], new Uniforms().u32(t.size, groupsX).f32(value), groups);
  return t;
}

export const zeros = (engine: Engine, shape: readonly number[]) => full(engine, shape, 0, 'zeros');
export const ones = (engine: Engine, shape: readonly number[]) => full(engine, shape, 1, 'ones');

/** Right-aligns a shape to rank 4 with leading 1s. */
export function pad4(shape: readonly number[]): [number, number, number, number] {
  if (shape.length > 4) throw new RangeError(`rank ${shape.length} > 4 is not supported: [${shape}]`);
  const s = [1, 1, 1, 1, ...shape].slice(-4);
  return s as [number, number, number, number];
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}
