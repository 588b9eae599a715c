import type { TensorData } from './raw-tensor.ts';
import { elementCount } from './raw-tensor.ts';

/** Row-major (C order) strides, in elements. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = step;
    step *= shape[axis];
  }
  return strides;
}

/** One past the largest element index a strided view touches, relative to its offset; 0 for empty views. */
export function stridedExtent(shape: readonly number[], strides: readonly number[]): number {
  if (shape.some((dim) => dim === 0)) return 0;
  let last = 0;
  for (let axis = 0; axis < shape.length; axis++) last += (shape[axis] - 1) * strides[axis];
  return last + 1;
}

/**
 * Copies a strided view into a new contiguous array. The caller must have checked
 * offset + stridedExtent(shape, strides) <= source.length.
 */
export function gatherStrided<T extends TensorData>(
  source: T,
  offset: number,
  shape: readonly number[],
  strides: readonly number[],
): T {
  const count = elementCount(shape);
  const expected = contiguousStrides(shape);
  if (strides.every((stride, axis) => stride === expected[axis] || shape[axis] === 1)) {
    return source.slice(offset, offset + count) as T;
  }
  const out = new (source.constructor as new (length: number) => T)(count);
  const target = out as unknown as { [index: number]: number | bigint };
  const input = source as unknown as { readonly [index: number]: number | bigint };
  if (count === 0) return out;
  const rank = shape.length;
  const innerSize = shape[rank - 1];
  const innerStride = strides[rank - 1];
  const index = new Array<number>(rank).fill(0);
  let written = 0;
  let rowStart = offset;
  while (written < count) {
    for (let i = 0, at = rowStart; i < innerSize; i++, at += innerStride) target[written++] = input[at];
    // Odometer increment over the outer axes, tracking the source position incrementally.
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis]++;
      rowStart += strides[axis];
      if (index[axis] < shape[axis]) break;
      rowStart -= index[axis] * strides[axis];
      index[axis] = 0;
    }
  }
  return out;
}
