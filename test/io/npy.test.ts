import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { zipSync } from 'fflate';
import { type RawTensor, WeightFormatError } from '../../engine/io/raw-tensor.ts';
import { readNpy, writeNpy } from '../../engine/io/npy.ts';
import { readNpz } from '../../engine/io/npz.ts';
import { concat } from './fixtures.ts';

/** An .npy with a hand-written header, as numpy would write it for the given version. */
function npy(header: string, data: Uint8Array, major = 1): Uint8Array {
  const lengthBytes = major === 1 ? 2 : 4;
  const padded = header.padEnd(Math.ceil((8 + lengthBytes + header.length + 1) / 64) * 64 - 8 - lengthBytes - 1) + '\n';
  const encoded = new TextEncoder().encode(padded);
  const prefix = new Uint8Array(8 + lengthBytes);
  prefix.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(prefix.buffer);
  if (major === 1) view.setUint16(8, encoded.length, true);
  else view.setUint32(8, encoded.length, true);
  return concat([prefix, encoded, data]);
}

function values(tensor: RawTensor): unknown[] {
  return Array.from(tensor.data as ArrayLike<unknown>);
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => readNpy(bytes, 'bad.npy'),
    (error: unknown) => error instanceof WeightFormatError && pattern.test(error.message),
  );
}

test('writeNpy → readNpy round trip, with the 64-byte aligned header numpy uses', () => {
  const tensors: RawTensor[] = [
    { dtype: 'f32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { dtype: 'f16', shape: [1], data: Uint16Array.from([0x3c00]) },
    { dtype: 'i64', shape: [], data: BigInt64Array.from([-9n]) },
    { dtype: 'bool', shape: [2, 0], data: new Uint8Array(0) },
    { dtype: 'u8', shape: [3], data: Uint8Array.from([0, 128, 255]) },
  ];
  for (const tensor of tensors) {
    const bytes = writeNpy(tensor);
    const headerLength = new DataView(bytes.buffer).getUint16(8, true);
    assert.is((10 + headerLength) % 64, 0);
    const back = readNpy(bytes);
    assert.equal([back.dtype, back.shape, values(back)], [tensor.dtype, tensor.shape, values(tensor)]);
  }
  assert.throws(() => writeNpy({ dtype: 'bf16', shape: [1], data: new Uint16Array(1) }), /no numpy equivalent/);
});

test('reads version 2 and 3 headers and Python 2 style long dimensions', () => {
  const data = new Uint8Array(Float64Array.from([0.5, 1.5]).buffer);
  assert.equal(values(readNpy(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data, 2))), [0.5, 1.5]);
  assert.equal(readNpy(npy('{"descr": "<f8", "fortran_order": False, "shape": (1, 2)}', data, 3)).shape, [1, 2]);
  assert.equal(readNpy(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }", data)).shape, [2]);
});

test('fortran_order True is transposed into row-major data', () => {
  // Column-major 2×3 [[1, 2, 3], [4, 5, 6]] is stored as 1 4 2 5 3 6.
  const data = new Uint8Array(Int32Array.from([1, 4, 2, 5, 3, 6]).buffer);
  const tensor = readNpy(npy("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", data));
  assert.equal([tensor.shape, values(tensor)], [[2, 3], [1, 2, 3, 4, 5, 6]]);
  const cube = Int16Array.from({ length: 24 }, (_, i) => i);
  const transposed = readNpy(npy("{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3, 4), }", new Uint8Array(cube.buffer)));
  // Element [i, j, k] of a Fortran array sits at i + 2j + 6k.
  assert.is((transposed.data as Int16Array)[1 * 12 + 2 * 4 + 3], 1 + 2 * 2 + 6 * 3);
});

test('big-endian data is byte-swapped', () => {
  const data = Uint8Array.from([0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0]);
  assert.equal(values(readNpy(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data))), [1, -2]);
});

test('rejects malformed headers, unsupported dtypes and wrong data sizes', () => {
  const four = new Uint8Array(4);
  rejects(Uint8Array.from([1, 2, 3]), /bad magic/);
  rejects(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", four), /needs 8 data bytes, found 4/);
  rejects(npy("{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }", four), /unsupported \.npy dtype "<u4"/);
  rejects(npy("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (1,), }", four), /malformed \.npy header/);
  rejects(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", four), /expected a dimension/);
  rejects(npy("{'descr': '<f4', 'shape': (1,), }", four), /fortran_order/);
  rejects(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ", four), /expected \}/);
  rejects(npy("__import__('os').system('true')", four), /expected \{/);
});

for (const level of [0, 6] as const) {
  test(`npz with ${level === 0 ? 'stored' : 'deflated'} entries`, () => {
    const weight: RawTensor = { dtype: 'f32', shape: [64, 8], data: Float32Array.from({ length: 512 }, (_, i) => i % 7) };
    const bias: RawTensor = { dtype: 'i64', shape: [2], data: BigInt64Array.from([3n, 4n]) };
    const bytes = zipSync({ 'fc.weight.npy': writeNpy(weight), 'fc.bias.npy': writeNpy(bias) }, { level });
    const tensors = readNpz(bytes, 'model.npz');
    assert.equal([...tensors.keys()].sort(), ['fc.bias', 'fc.weight']);
    assert.equal(values(tensors.get('fc.weight')!), values(weight));
    assert.equal(values(tensors.get('fc.bias')!), [3n, 4n]);
  });
}

test('npz rejects non-.npy entries and names the entry of a bad array', () => {
  assert.throws(() => readNpz(zipSync({ 'notes.txt': new Uint8Array(1) })), /non-\.npy entry notes\.txt/);
  assert.throws(() => readNpz(zipSync({ 'a.npy': Uint8Array.from([1, 2]) }), 'x.npz'), /x\.npz:a\.npy: not a \.npy/);
});

test.run();
