import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WeightFormatError, f16BitsToF32, f32ToF16Bits, toFloat32 } from '../../engine/io/raw-tensor.ts';

test('f16 decode of known bit patterns', () => {
  const bits = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00, 0xfc00]);
  const values = toFloat32({ dtype: 'f16', shape: [bits.length], data: bits });
  assert.equal(Array.from(values.slice(0, 2)), [1, -2]);
  assert.ok(Math.abs(values[2] - 1 / 3) < 1e-3);
  assert.equal(values[3], 65504);
  assert.equal(values[4], 2 ** -24);
  assert.equal(values[5], 2 ** -14);
  assert.ok(Object.is(values[6], -0));
  assert.equal(Array.from(values.slice(7)), [Infinity, -Infinity]);
  assert.ok(Number.isNaN(f16BitsToF32(0x7e00)));
});

test('f32ToF16Bits rounds to nearest even and saturates to infinity', () => {
  const cases: Array<[number, number]> = [
    [1, 0x3c00],
    [-2, 0xc000],
    [1 / 3, 0x3555],
    [65504, 0x7bff],
    [65519, 0x7bff],
    [65520, 0x7c00], // halfway to the next (infinite) step: ties to even
    [1e6, 0x7c00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: even is 0
    [1.5 * 2 ** -25, 0x0001],
    [2 ** -14, 0x0400],
    [1 + 2 ** -11, 0x3c00], // tie: rounds down to even mantissa
    [1 + 3 * 2 ** -11, 0x3c02], // tie: rounds up to even mantissa
    [-0, 0x8000],
    [-Infinity, 0xfc00],
  ];
  const bits = f32ToF16Bits(cases.map(([value]) => value));
  cases.forEach(([value, expected], i) => assert.is(bits[i], expected, `f16 of ${value}`));
  assert.is(f32ToF16Bits([NaN])[0] & 0x7e00, 0x7e00);
});

test('every finite f16 survives decode then encode', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const back = f32ToF16Bits(toFloat32({ dtype: 'f16', shape: [65536], data: all }));
  for (let bits = 0; bits < 65536; bits++) {
    if ((bits & 0x7c00) === 0x7c00 && bits & 0x3ff) continue; // NaN payloads are not preserved
    if (back[bits] !== bits) assert.unreachable(`0x${bits.toString(16)} came back as 0x${back[bits].toString(16)}`);
  }
});

test('bf16 decode is the top half of f32', () => {
  const values = toFloat32({ dtype: 'bf16', shape: [3], data: Uint16Array.from([0x3f80, 0xc040, 0x4049]) });
  assert.equal(Array.from(values.slice(0, 2)), [1, -3]);
  assert.ok(Math.abs(values[2] - 3.140625) < 1e-7);
});

test('integer dtypes widen; i64 beyond 2^53 is refused', () => {
  assert.equal(Array.from(toFloat32({ dtype: 'i64', shape: [2], data: BigInt64Array.from([-5n, 12345n]) })), [-5, 12345]);
  assert.equal(Array.from(toFloat32({ dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) })), [1, 0]);
  assert.equal(Array.from(toFloat32({ dtype: 'i8', shape: [1], data: Int8Array.from([-7]) })), [-7]);
  assert.throws(
    () => toFloat32({ dtype: 'i64', shape: [1], data: BigInt64Array.from([2n ** 60n]) }, 'bn.num_batches_tracked'),
    (error: unknown) => error instanceof WeightFormatError && /bn\.num_batches_tracked/.test(error.message),
  );
});

test.run();
