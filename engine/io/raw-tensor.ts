/** Framework-free tensor as read from a weight file: host memory, row-major, little-endian. */

export type DType = 'f32' | 'f16' | 'bf16' | 'f64' | 'i64' | 'i32' | 'i16' | 'i8' | 'u8' | 'bool';

/** f16 and bf16 stay as their raw bit patterns in a Uint16Array; bool is one byte per element. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array;

export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export type TensorMap = Map<string, RawTensor>;

/** Thrown by every reader for malformed, hostile or unsupported input; the message names the file or entry. */
export class WeightFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightFormatError';
  }
}

export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  f64: 8,
  i64: 8,
  f32: 4,
  i32: 4,
  f16: 2,
  bf16: 2,
  i16: 2,
  i8: 1,
  u8: 1,
  bool: 1,
};

type TensorDataConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => TensorData;

const DATA_CONSTRUCTORS: Readonly<Record<DType, TensorDataConstructor>> = {
  f64: Float64Array,
  i64: BigInt64Array,
  f32: Float32Array,
  i32: Int32Array,
  f16: Uint16Array,
  bf16: Uint16Array,
  i16: Int16Array,
  i8: Int8Array,
  u8: Uint8Array,
  bool: Uint8Array,
};

/** Product of the dimensions, or NaN when it would exceed exact integer range (hostile shapes). */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return Number.isSafeInteger(count) ? count : NaN;
}

/** Copies little-endian bytes into a fresh, properly aligned typed array (file offsets are rarely aligned). */
export function dataFromBytes(dtype: DType, bytes: Uint8Array): TensorData {
  const elementBytes = DTYPE_BYTES[dtype];
  if (bytes.byteLength % elementBytes !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  return new DATA_CONSTRUCTORS[dtype](bytes.slice().buffer, 0, bytes.byteLength / elementBytes);
}

export function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

let f16Table: Float32Array | undefined;

/** All 65536 half values precomputed: decoding a table lookup is far faster than bit arithmetic per element. */
function f16DecodeTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) f16Table[bits] = f16BitsToF32(bits);
  }
  return f16Table;
}

export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/**
 * Round-to-nearest-even f16 bit patterns of values first rounded to f32 (the weights' own precision);
 * out-of-range values become ±Infinity as IEEE prescribes.
 */
export function f32ToF16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = singleF32ToF16Bits(values[i]);
  return out;
}

function singleF32ToF16Bits(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0];
  const sign = (bits >>> 16) & 0x8000;
  const f32Exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (f32Exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const exponent = f32Exponent - 127 + 15;
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    // Subnormal half: shift in the implicit leading bit; below 2^-25 everything rounds to zero.
    if (exponent < -10) return sign;
    return sign | roundShiftRightEven(mantissa | 0x800000, 14 - exponent);
  }
  // A rounding carry out of the mantissa correctly bumps the exponent (up to Infinity).
  return sign | roundShiftRightEven((exponent << 23) | mantissa, 13);
}

function roundShiftRightEven(value: number, shift: number): number {
  const kept = Math.floor(value / 2 ** shift);
  const remainder = value - kept * 2 ** shift;
  const halfway = 2 ** (shift - 1);
  return remainder > halfway || (remainder === halfway && kept & 1) ? kept + 1 : kept;
}

/** Widens any dtype to f32. i64 values must be exact JS numbers; larger magnitudes mean corrupt data here. */
export function toFloat32(tensor: RawTensor, name = 'tensor'): Float32Array {
  const { dtype, data } = tensor;
  switch (dtype) {
    case 'f16': {
      const table = f16DecodeTable();
      const out = new Float32Array(data.length);
      const bits = data as Uint16Array;
      for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
      return out;
    }
    case 'bf16': {
      const widened = new Uint32Array(data.length);
      const bits = data as Uint16Array;
      for (let i = 0; i < bits.length; i++) widened[i] = bits[i] << 16;
      return new Float32Array(widened.buffer);
    }
    case 'i64': {
      const out = new Float32Array(data.length);
      const values = data as BigInt64Array;
      const limit = BigInt(Number.MAX_SAFE_INTEGER);
      for (let i = 0; i < values.length; i++) {
        if (values[i] > limit || values[i] < -limit) {
          throw new WeightFormatError(`${name}: i64 element ${i} (${values[i]}) is outside the exactly representable range`);
        }
        out[i] = Number(values[i]);
      }
      return out;
    }
    default:
      return Float32Array.from(data as Exclude<TensorData, BigInt64Array>);
  }
}
