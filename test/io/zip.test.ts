import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { zipSync } from 'fflate';
import { WeightFormatError } from '../../engine/io/raw-tensor.ts';
import { listZipEntries, unzipEntries } from '../../engine/io/zip.ts';

const CENTRAL_HEADER = 0x02014b50;

/** Patches the first central-directory record, where unzipping reads sizes and the method from. */
function patchCentralDirectory(zip: Uint8Array, patch: (view: DataView, record: number) => void): Uint8Array {
  const copy = zip.slice();
  const view = new DataView(copy.buffer);
  for (let at = 0; at + 4 <= copy.length; at++) {
    if (view.getUint32(at, true) === CENTRAL_HEADER) {
      patch(view, at);
      return copy;
    }
  }
  throw new Error('no central directory record');
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => unzipEntries(bytes, 'bad.zip'),
    (error: unknown) => error instanceof WeightFormatError && pattern.test(error.message),
  );
}

const deflated = zipSync({ 'a.npy': new Uint8Array(1000) }, { level: 6 });
const stored = zipSync({ 'a.npy': new Uint8Array(1000) }, { level: 0 });

test('lists and extracts entries', () => {
  assert.equal(listZipEntries(deflated, 'ok.zip'), ['a.npy']);
  assert.equal(unzipEntries(deflated, 'ok.zip').get('a.npy'), new Uint8Array(1000));
  assert.equal([...unzipEntries(stored, 'ok.zip', () => false).keys()], []);
});

test('a claimed size beyond what DEFLATE can produce is refused before allocating', () => {
  rejects(patchCentralDirectory(deflated, (view, record) => view.setUint32(record + 24, 0xfffffff0, true)), /impossible size 4294967280/);
});

test('stored entries must have equal sizes; unknown methods are refused', () => {
  rejects(patchCentralDirectory(stored, (view, record) => view.setUint32(record + 24, 5000, true)), /inconsistent sizes 1000 and 5000/);
  rejects(patchCentralDirectory(stored, (view, record) => view.setUint16(record + 10, 14, true)), /compression method 14/);
});

test('garbage is an unreadable zip, not a crash', () => {
  rejects(Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]), /unreadable zip archive/);
  rejects(stored.subarray(0, stored.length - 30), /unreadable zip archive/);
});

test.run();
