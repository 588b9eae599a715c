import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { textWidth } from '../../engine/data/bitmap-font.ts';
import { loadDataset } from '../../engine/data/datasets.ts';
import { imageGrid, type GridRow } from '../../engine/data/grid.ts';
import { decodePng, type RasterImage } from '../../engine/data/png.ts';

const pixel = (image: RasterImage, x: number, y: number) => [...image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3)];

function countColor(image: RasterImage, color: number[]): number {
  let count = 0;
  for (let p = 0; p < image.width * image.height; p++) {
    if (image.data[3 * p] === color[0] && image.data[3 * p + 1] === color[1] && image.data[3 * p + 2] === color[2]) count++;
  }
  return count;
}

test('MNIST rows with labels and colored captions decode to the expected layout', () => {
  const mnist = loadDataset('mnist', 'test', { limit: 8 });
  const digits = { images: mnist.images, n: 8, c: 1, h: 28, w: 28 };
  const captions = [...mnist.labels].map(String);
  const rows: GridRow[] = [
    { label: 'clean', ...digits, captions, correct: captions.map(() => true) },
    { label: 'pgd', ...digits, captions, correct: captions.map((_, i) => i % 2 === 0) },
    { label: 'agdm', ...digits },
  ];
  const grid = decodePng(imageGrid(rows));
  const [scale, pad, textScale] = [4, 6, 2];
  const labelColumn = textWidth('clean') * textScale + pad;
  const rowHeight = 28 * scale + 7 * textScale + 2 * textScale;
  assert.equal([grid.width, grid.height, grid.channels], [pad + labelColumn + 8 * (28 * scale + pad), pad + 3 * (rowHeight + pad), 3]);

  const left = pad + labelColumn;
  const top = pad + 2 * (rowHeight + pad);
  for (const [x, y] of [[14, 7], [20, 20], [0, 0]]) {
    const gray = Math.round(mnist.images[y * 28 + x] * 255);
    for (const [dx, dy] of [[0, 0], [scale - 1, scale - 1]]) {
      assert.equal(pixel(grid, left + x * scale + dx, top + y * scale + dy), [gray, gray, gray], `upscaled pixel (${x}, ${y})`);
    }
  }
  assert.ok(countColor(grid, [0, 150, 0]) > 0 && countColor(grid, [210, 0, 0]) > 0, 'green and red captions');
  assert.ok(countColor(grid, [0, 0, 0]) > 0, 'black row labels');
});

test('mixes gray and color rows, honours scale and pad, clips long captions', () => {
  const cifar = loadDataset('cifar10-lossless', 'test', { limit: 2 });
  const gray = new Float32Array(32 * 32).fill(0.5);
  const grid = decodePng(imageGrid([
    { images: cifar.images, n: 2, c: 3, h: 32, w: 32, captions: ['a very long caption indeed', 'ship'] },
    { images: gray, n: 1, c: 1, h: 32, w: 32 },
  ], { scale: 1, pad: 2 }));
  const rowHeight = 32 + 14 + 4;
  assert.equal([grid.width, grid.height], [2 + 2 * 34, 2 + 2 * (rowHeight + 2)]);
  const red = Math.round(cifar.images[0] * 255);
  assert.is(pixel(grid, 2, 2)[0], red, 'top-left pixel of the first CIFAR image, red channel');
  assert.equal(pixel(grid, 2, 2 + rowHeight + 2), [128, 128, 128]);
});

test('rejects rows whose data is too short or whose channel count is unsupported', () => {
  assert.throws(() => imageGrid([{ images: new Float32Array(10), n: 1, c: 1, h: 4, w: 4 }]), /needs 16 values/);
  assert.throws(() => imageGrid([{ images: new Float32Array(32), n: 1, c: 2, h: 4, w: 4 }]), /channels must be 1 or 3/);
  assert.throws(() => imageGrid([]), /no rows/);
});

test.run();
