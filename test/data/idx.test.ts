import { gzipSync } from 'fflate';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IdxFormatError, parseIdx, readIdxFile } from '../../engine/data/idx.ts';

const MNIST = new URL('../../../shared/data/mnist/', import.meta.url);

function idxBytes(dims: number[], data: number[], elementType = 0x08): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint8(2, elementType);
  header.setUint8(3, dims.length);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  return Uint8Array.from([...new Uint8Array(header.buffer), ...data]);
}

const rejects = (bytes: Uint8Array, pattern: RegExp) =>
  assert.throws(() => parseIdx(bytes), (err: unknown) => err instanceof IdxFormatError && pattern.test(err.message), String(pattern));

test('parses plain and gzipped IDX to the same dims and bytes', () => {
  const bytes = idxBytes([2, 3], [1, 2, 3, 4, 5, 6]);
  for (const input of [bytes, gzipSync(bytes)]) {
    const { dims, data } = parseIdx(input);
    assert.equal(dims, [2, 3]);
    assert.equal([...data], [1, 2, 3, 4, 5, 6]);
  }
});

test('rejects bad magic, other element types, short headers, size mismatches and bad gzip', () => {
  rejects(Uint8Array.of(1, 0, 8, 1, 0, 0, 0, 0), /bad magic/);
  rejects(idxBytes([1], [0, 0, 0, 0], 0x0d), /element type 0xd unsupported/);
  rejects(idxBytes([2, 2], [1, 2, 3, 4]).subarray(0, 9), /truncated header/);
  rejects(idxBytes([2, 2], [1, 2, 3]), /need 4 bytes of data, file has 3/);
  rejects(idxBytes([2], [1, 2, 3]), /need 2 bytes of data, file has 3/);
  rejects(gzipSync(idxBytes([2], [1, 2])).subarray(0, 15), /corrupt gzip/);
});

test('reads the real MNIST test label and image files', () => {
  const labels = readIdxFile(new URL('t10k-labels-idx1-ubyte.gz', MNIST).pathname);
  assert.equal(labels.dims, [10000]);
  assert.equal([...labels.data.subarray(0, 5)], [7, 2, 1, 0, 4]);
  const images = readIdxFile(new URL('t10k-images-idx3-ubyte.gz', MNIST).pathname);
  assert.equal(images.dims, [10000, 28, 28]);
});

test.run();
