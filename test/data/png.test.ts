import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { unzlibSync } from 'fflate';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePng, encodePng, ImageFormatError, type RasterImage } from '../../engine/data/png.ts';
import { rng } from '../helpers/check.ts';

const SAMPLES = new URL('../../../shared/data/samples/', import.meta.url);

function randomImage(random: () => number, channels: RasterImage['channels'], width: number, height: number): RasterImage {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(random() * 256);
  return { width, height, channels, data };
}

/** Gradients, a fine checkerboard and sparse noise, so that the adaptive encoder picks every filter type. */
function mixedImage(random: () => number, channels: RasterImage['channels'], width: number, height: number): RasterImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const band = Math.floor(y / 4) % 5;
        const value = [x * 3 + c, y * 5, x * 2 + y * 2, (x * y) >> 2, ((x + y) & 1) * 8][band] + (random() < 0.1 ? random() * 40 : 0);
        data[(y * width + x) * channels + c] = value;
      }
    }
  }
  return { width, height, channels, data };
}

/** Independent PNG writer (node's zlib and crc32) for formats our encoder never produces. */
function handMadePng(header: number[], filteredRows: number[], extraChunks: [string, number[]][] = []): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(header[0], 0);
  ihdr.writeUInt32BE(header[1], 4);
  ihdr.set(header.slice(2), 8);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    ...extraChunks.map(([type, data]) => chunk(type, Uint8Array.from(data))),
    chunk('IDAT', deflateSync(Uint8Array.from(filteredRows))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

function idatFilterTypes(png: Uint8Array, image: RasterImage): Set<number> {
  // The encoder writes a single IDAT right after the 8-byte signature and the 25-byte IHDR chunk.
  const length = new DataView(png.buffer, png.byteOffset).getUint32(33);
  const filtered = unzlibSync(png.subarray(41, 41 + length));
  const stride = image.width * image.channels + 1;
  return new Set(Array.from({ length: image.height }, (_, y) => filtered[y * stride]));
}

test('round trip is exact for every channel count, size and filter choice', () => {
  const random = rng(1234);
  for (const channels of [1, 2, 3, 4] as const) {
    for (const [width, height] of [[1, 1], [1, 7], [9, 1], [28, 28], [33, 17]]) {
      for (const filter of ['none', 'adaptive'] as const) {
        const image = randomImage(random, channels, width, height);
        const decoded = decodePng(encodePng(image, { filter }));
        assert.equal({ ...decoded, data: [...decoded.data] }, { ...image, data: [...image.data] }, `${channels}ch ${width}x${height} ${filter}`);
      }
    }
  }
});

test('adaptive filtering uses all five filter types and decodes exactly', () => {
  for (const channels of [1, 3, 4] as const) {
    const image = mixedImage(rng(99 + channels), channels, 40, 64);
    const png = encodePng(image);
    assert.equal([...idatFilterTypes(png, image)].sort(), [0, 1, 2, 3, 4], `${channels} channels`);
    assert.equal(decodePng(png).data, image.data);
    assert.ok(png.length < encodePng(image, { filter: 'none' }).length, 'adaptive filtering should compress better here');
  }
});

test('decodes palette (with tRNS), sub-byte gray and 16-bit images from another writer', () => {
  const colors = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
  const palette = decodePng(handMadePng([4, 2, 2, 3, 0, 0, 0], [0, 0b00011011, 0, 0b10010000], [['PLTE', colors], ['tRNS', [128]]]));
  assert.is(palette.channels, 4);
  const [red, green, blue, other] = [[255, 0, 0, 128], [0, 255, 0, 255], [0, 0, 255, 255], [10, 20, 30, 255]];
  assert.equal([...palette.data], [red, green, blue, other, blue, green, red, red].flat());

  const gray2 = decodePng(handMadePng([4, 1, 2, 0, 0, 0, 0], [0, 0b00011011]));
  assert.equal([...gray2.data], [0, 85, 170, 255]);

  const rgb16 = decodePng(handMadePng([1, 1, 16, 2, 0, 0, 0], [0, 0xff, 0xff, 0x80, 0x00, 0x00, 0x80]));
  assert.equal({ channels: rgb16.channels, data: [...rgb16.data] }, { channels: 3, data: [255, 128, 0] });
});

test('decodes the real MNIST and CIFAR fixture PNGs', () => {
  const digit = decodePng(readFileSync(new URL('mnist_00_7.png', SAMPLES)));
  assert.equal([digit.width, digit.height, digit.channels], [28, 28, 1]);
  assert.ok(digit.data.some((v) => v > 200) && digit.data.filter((v) => v === 0).length > 400, 'a bright stroke on black');
  const cifar = decodePng(readFileSync(new URL('../cifar10/lossless/cifar10_00_3.png', SAMPLES)));
  assert.equal([cifar.width, cifar.height, cifar.channels], [32, 32, 3]);
});

test('every truncation and every single-byte corruption is rejected with ImageFormatError', () => {
  const png = encodePng(randomImage(rng(7), 3, 6, 5));
  for (let length = 0; length < png.length; length++) {
    assert.throws(() => decodePng(png.subarray(0, length)), (err: unknown) => err instanceof ImageFormatError, `truncated to ${length}`);
  }
  for (let i = 0; i < png.length; i++) {
    const corrupt = png.slice();
    corrupt[i] ^= 0x20;
    assert.throws(() => decodePng(corrupt), (err: unknown) => err instanceof ImageFormatError, `byte ${i} flipped`);
  }
});

test('structural problems get specific messages', () => {
  const expectError = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(() => decodePng(bytes), (err: unknown) => err instanceof ImageFormatError && pattern.test(err.message), String(pattern));
  expectError(handMadePng([2, 1, 8, 0, 0, 0, 0], [7, 1, 2]), /unknown filter type 7 on row 0/);
  expectError(handMadePng([2, 1, 8, 0, 0, 0, 1], [0, 1, 2]), /interlaced/);
  expectError(handMadePng([2, 1, 8, 0, 0, 0, 0], [0, 1, 2, 3]), /more than 4 bytes, expected 3/);
  expectError(handMadePng([2, 1, 8, 0, 0, 0, 0], [0, 1]), /holds 2 bytes, expected 3/);
  expectError(handMadePng([1, 1, 8, 3, 0, 0, 0], [0, 5], [['PLTE', [1, 2, 3]]]), /palette index 5/);
  expectError(handMadePng([1, 1, 8, 3, 0, 0, 0], [0, 0]), /without a valid PLTE/);
  expectError(handMadePng([1, 1, 3, 0, 0, 0, 0], [0, 0]), /color type 0 with bit depth 3/);
  expectError(handMadePng([1, 1, 8, 0, 0, 0, 0], [0, 0], [['ABCD', []]]), /unknown critical chunk ABCD/);
});

test('encodePng rejects data that does not match the declared size', () => {
  assert.throws(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) }), /needs 12 bytes, got 11/);
  assert.throws(() => encodePng({ width: 0, height: 2, channels: 1, data: new Uint8Array(0) }), /bad size/);
});

test.run();
