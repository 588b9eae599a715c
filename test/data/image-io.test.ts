import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertValidImage, InvalidImageError, readImageFile, writeImageFile } from '../../engine/data/image-io.ts';
import { encodePng, ImageFormatError } from '../../engine/data/png.ts';
import { rng } from '../helpers/check.ts';

const DATA = new URL('../../../shared/data/', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'image-io-'));

test('writes and reads back gray and RGB images exactly at 8-bit levels', () => {
  const random = rng(42);
  for (const [c, h, w] of [[1, 28, 28], [3, 32, 32], [3, 5, 9]] as const) {
    const chw = Float32Array.from({ length: c * h * w }, () => Math.floor(random() * 256) / 255);
    const path = join(dir, `img-${c}-${h}-${w}.png`);
    writeImageFile(path, chw, c, h, w);
    const read = readImageFile(path);
    assert.equal([read.c, read.h, read.w], [c, h, w]);
    assert.equal(read.data, chw);
  }
});

test('reading drops alpha and keeps planar channel order', () => {
  const path = join(dir, 'rgba.png');
  writeFileSync(path, encodePng({ width: 2, height: 1, channels: 4, data: Uint8Array.of(255, 0, 51, 7, 0, 102, 255, 9) }));
  const read = readImageFile(path);
  assert.equal([read.c, read.h, read.w], [3, 1, 2]);
  assert.equal([...read.data].map((v) => Math.round(v * 255)), [255, 0, 0, 102, 51, 255]);
});

test('reads the real fixtures: gray MNIST sample, RGB CIFAR PNG and JPEG', () => {
  const digit = readImageFile(new URL('samples/mnist_00_7.png', DATA).pathname);
  assert.equal([digit.c, digit.h, digit.w], [1, 28, 28]);
  const lossless = readImageFile(new URL('cifar10/lossless/cifar10_00_3.png', DATA).pathname);
  const jpeg = readImageFile(new URL('cifar10/jpeg-test/cat/0000.jpg', DATA).pathname);
  assert.equal([jpeg.c, jpeg.h, jpeg.w], [3, 32, 32]);
  const meanAbsDiff = jpeg.data.reduce((sum, v, i) => sum + Math.abs(v - lossless.data[i]), 0) / jpeg.data.length;
  assert.ok(meanAbsDiff < 0.05, `cat/0000.jpg is test image 0 up to JPEG error (mean |diff| ${meanAbsDiff.toFixed(4)})`);
});

test('assertValidImage reports shape errors and bad pixels by index and position', () => {
  assert.throws(() => assertValidImage(new Float32Array(10), [1, 3, 3]), (e: unknown) => e instanceof InvalidImageError && /10 values, shape \[1, 3, 3\] needs 9/.test(e.message));
  const data = new Float32Array(2 * 3 * 4).fill(0.5);
  data[5] = NaN;
  data[13] = Infinity;
  data[23] = -0.25;
  assert.throws(
    () => assertValidImage(data, [2, 3, 4]),
    (e: unknown) => e instanceof InvalidImageError && e.message.includes('3 pixel values')
      && e.message.includes('index 5 (c=0, y=1, x=1) = NaN')
      && e.message.includes('index 13 (c=1, y=0, x=1) = Infinity')
      && e.message.includes('index 23 (c=1, y=2, x=3) = -0.25'),
  );
  assertValidImage(Float32Array.of(0, 1, 0.5, 0.25), [1, 2, 2]);
});

test('writeImageFile refuses NaN pixels; readImageFile names the corrupt file', () => {
  assert.throws(() => writeImageFile(join(dir, 'nan.png'), Float32Array.of(0, NaN, 0, 0), 1, 2, 2), (e: unknown) => e instanceof InvalidImageError);
  const path = join(dir, 'corrupt.png');
  writeFileSync(path, encodePng({ width: 2, height: 2, channels: 1, data: new Uint8Array(4) }).subarray(0, 40));
  assert.throws(() => readImageFile(path), (e: unknown) => e instanceof ImageFormatError && e.message.startsWith(path));
});

test.after(() => rmSync(dir, { recursive: true }));
test.run();
