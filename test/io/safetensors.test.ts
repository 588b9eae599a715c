import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type TensorMap, WeightFormatError } from '../../engine/io/raw-tensor.ts';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../../engine/io/safetensors.ts';
import { parseWeights } from '../../engine/io/load.ts';
import { concat } from './fixtures.ts';

function handMade(header: unknown, data: Uint8Array, declaredLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  return concat([prefix, json, data]);
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => readSafetensors(bytes, 'bad.safetensors'),
    (error: unknown) => error instanceof WeightFormatError && pattern.test(error.message) && error.message.startsWith('bad.safetensors'),
  );
}

test('round trip keeps every dtype, shape, value and the metadata', () => {
  const tensors: TensorMap = new Map([
    ['byte', { dtype: 'u8', shape: [3], data: Uint8Array.from([1, 2, 255]) }],
    ['weight', { dtype: 'f32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) }],
    ['half', { dtype: 'f16', shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) }],
    ['brain', { dtype: 'bf16', shape: [1], data: Uint16Array.from([0x3f80]) }],
    ['double', { dtype: 'f64', shape: [1], data: Float64Array.from([Math.PI]) }],
    ['count', { dtype: 'i64', shape: [], data: BigInt64Array.from([-(2n ** 40n)]) }],
    ['ints', { dtype: 'i32', shape: [2], data: Int32Array.from([-1, 7]) }],
    ['shorts', { dtype: 'i16', shape: [1], data: Int16Array.from([-300]) }],
    ['chars', { dtype: 'i8', shape: [1], data: Int8Array.from([-3]) }],
    ['mask', { dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) }],
    ['empty', { dtype: 'f32', shape: [0, 4], data: new Float32Array(0) }],
  ]);
  const bytes = writeSafetensors(tensors, { source: 'unit test' });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is((8 + headerLength) % 8, 0, 'data section starts 8-byte aligned');
  const back = readSafetensors(bytes, 'roundtrip');
  assert.equal([...back.keys()].sort(), [...tensors.keys()].sort());
  for (const [name, tensor] of tensors) {
    const read = back.get(name)!;
    assert.is(read.dtype, tensor.dtype, name);
    assert.equal(read.shape, tensor.shape, name);
    assert.equal(Array.from(read.data as ArrayLike<unknown>), Array.from(tensor.data as ArrayLike<unknown>), name);
  }
  assert.equal(readSafetensorsMetadata(bytes), { source: 'unit test' });
});

test('reads a file written by another implementation (unpadded header, keys in any order)', () => {
  const data = concat([new Uint8Array(Float32Array.from([1.5, -2]).buffer), Uint8Array.from([9])]);
  const bytes = handMade(
    { b: { dtype: 'U8', shape: [1], data_offsets: [8, 9] }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, __metadata__: { format: 'pt' } },
    data,
  );
  const tensors = readSafetensors(bytes);
  assert.equal(Array.from(tensors.get('a')!.data as Float32Array), [1.5, -2]);
  assert.equal(Array.from(tensors.get('b')!.data as Uint8Array), [9]);
});

test('format sniffing: a header length whose first byte is 0x80 (the pickle PROTO byte) is still safetensors', () => {
  // Pad the metadata until the header length's low byte is 0x80.
  for (let pad = 0; pad < 300; pad++) {
    const bytes = writeSafetensors(new Map([['w', { dtype: 'f32', shape: [2], data: Float32Array.of(1, 2) }]]), { note: 'x'.repeat(pad) });
    if (bytes[0] !== 0x80) continue;
    assert.equal(Array.from(parseWeights(bytes, 'sniff').get('w')!.data as Float32Array), [1, 2]);
    return;
  }
  assert.unreachable('no padding produced a 0x80 first byte');
});

test('rejects a header length beyond the file or the 100 MB limit', () => {
  rejects(handMade({}, new Uint8Array(0), 1000n), /header length 1000/);
  rejects(handMade({}, new Uint8Array(0), 2n ** 63n), /header length/);
  rejects(new Uint8Array(5), /too short/);
});

test('rejects invalid JSON and non-object headers', () => {
  rejects(handMade('{"a": ', new Uint8Array(0)), /not valid UTF-8 JSON/);
  rejects(handMade('[1, 2]', new Uint8Array(0)), /not a JSON object/);
  rejects(concat([handMade('', new Uint8Array(0), 2n), Uint8Array.from([0xff, 0xfe])]), /not valid UTF-8 JSON/);
});

test('rejects offsets out of range, overlapping, with gaps or not matching shape × dtype', () => {
  const data = new Uint8Array(8);
  rejects(handMade({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data), /cover 16 bytes but the data section holds 8/);
  rejects(
    handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data),
    /overlaps/,
  );
  rejects(handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data), /gap at byte 0/);
  rejects(handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), /needs 12/);
  rejects(handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, data), /invalid data_offsets/);
  rejects(handMade({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data), /invalid shape/);
  rejects(handMade({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, data), /too large to address/);
});

test('rejects unknown dtypes and malformed metadata', () => {
  rejects(handMade({ a: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, new Uint8Array(8)), /unsupported dtype "F8_E4M3"/);
  rejects(handMade({ __metadata__: { epoch: 3 } }, new Uint8Array(0)), /__metadata__ must map strings to strings/);
});

test.run();
