import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CIFAR10_CLASSES, dataRoot, DatasetNotFoundError, loadDataset, type Dataset } from '../../engine/data/datasets.ts';
import { readImageFile } from '../../engine/data/image-io.ts';
import { decodePng } from '../../engine/data/png.ts';

const root = dataRoot();

/** The shared samples are the first 20 test images, named `<prefix>_NN_L.png`. */
function assertMatchesSamples(set: Dataset, prefix: string): void {
  const samples = readdirSync(join(root, 'samples')).filter((f) => f.startsWith(`${prefix}_`)).sort();
  assert.is(samples.length, 20, `${prefix} samples`);
  const plane = set.height * set.width;
  for (const file of samples) {
    const [, index, label] = /_(\d+)_(\d)\.png$/.exec(file)!.map(Number);
    assert.is(set.labels[index], label, `${file} label`);
    const sample = readImageFile(join(root, 'samples', file));
    assert.equal(set.images.subarray(index * plane, (index + 1) * plane), sample.data, `${file} pixels`);
  }
}

function histogram(labels: Uint8Array): number[] {
  const counts = new Array(10).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

test('MNIST test: 10,000 images whose first 20 equal the shared samples', () => {
  const set = loadDataset('mnist', 'test');
  assert.equal([set.n, set.channels, set.height, set.width, set.images.length, set.labels.length], [10000, 1, 28, 28, 7840000, 10000]);
  assert.equal(set.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assertMatchesSamples(set, 'mnist');
});

test('MNIST train: 60,000 images from the PNG sheets, with the published labels', () => {
  const start = performance.now();
  const set = loadDataset('mnist', 'train');
  const seconds = (performance.now() - start) / 1000;
  // Timed for the log only: tests never assert wall-clock times (the runner's per-file limit catches hangs).
  console.log(`    MNIST train loaded in ${seconds.toFixed(2)} s`);
  assert.equal([set.n, set.images.length], [60000, 60000 * 784]);
  const counts = histogram(set.labels);
  assert.equal(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], 'the well-known MNIST train class counts');
  const published = JSON.parse(/\[[^\]]*\]/.exec(readFileSync(join(root, 'mnist/train-png/mnist_labels.js'), 'latin1'))![0]) as number[];
  assert.equal([...set.labels], published.slice(0, 60000), 'labels agree with mnist_labels.js');
  let ink = 0;
  for (const v of set.images) ink += v;
  const meanPixel = ink / set.images.length;
  assert.ok(Math.abs(meanPixel - 0.1307) < 0.001, `mean pixel ${meanPixel} is MNIST's 0.1307`);
});

test('MNIST sheets hold one image per row: sheet 20 equals the first 3,000 test images', () => {
  const sheet = decodePng(readFileSync(join(root, 'mnist/train-png/mnist_batch_20.png')));
  const testSet = loadDataset('mnist', 'test', { limit: 3000 });
  assert.equal(Float32Array.from(sheet.data, (v) => v / 255), testSet.images);
});

test('limit returns the same prefix as a full load', () => {
  const small = loadDataset('mnist', 'train', { limit: 10 });
  const full = loadDataset('mnist', 'train');
  assert.is(small.n, 10);
  assert.equal(small.images, full.images.subarray(0, 10 * 784));
  assert.equal(small.labels, full.labels.subarray(0, 10));
  assert.throws(() => loadDataset('mnist', 'test', { limit: -1 }), /non-negative integer/);
});

test('Fashion-MNIST: both splits, balanced classes, first 20 test images equal the samples', () => {
  let testSet: Dataset;
  try {
    testSet = loadDataset('fashion-mnist', 'test');
  } catch (err) {
    if (!(err instanceof DatasetNotFoundError)) throw err;
    console.log(`    SKIP Fashion-MNIST: ${err.message.split('\n')[0]} (apt-get install dataset-fashion-mnist)`);
    return;
  }
  assert.is(testSet.n, 10000);
  assert.equal(histogram(testSet.labels), new Array(10).fill(1000));
  assert.is(testSet.classNames[9], 'Ankle boot');
  assertMatchesSamples(testSet, 'fashionMNIST');
  const train = loadDataset('fashion-mnist', 'train');
  assert.equal([train.n, train.channels, train.height, train.width], [60000, 1, 28, 28]);
  assert.equal(histogram(train.labels), new Array(10).fill(6000));
});

test('CIFAR-10 lossless: the 20 fixtures in test-set order with labels from their names', () => {
  const set = loadDataset('cifar10-lossless', 'test');
  assert.equal([set.n, set.channels, set.height, set.width, set.images.length], [20, 3, 32, 32, 20 * 3072]);
  assert.equal([...set.labels], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]);
  assert.equal(set.classNames, CIFAR10_CLASSES);
  const fixture = readImageFile(join(root, 'cifar10/lossless/cifar10_07_6.png'));
  assert.equal(set.images.subarray(7 * 3072, 8 * 3072), fixture.data);
  assert.throws(() => loadDataset('cifar10-lossless', 'train'), /only a test split/);
});

test('CIFAR-10 JPEG: class folders interleaved, 1,000 per class', () => {
  const first = loadDataset('cifar10-jpeg', 'test', { limit: 50 });
  assert.equal([first.n, first.channels, first.height, first.width], [50, 3, 32, 32]);
  assert.equal([...first.labels], Array.from({ length: 50 }, (_, i) => i % 10));
  const cat = readImageFile(join(root, 'cifar10/jpeg-test/cat/0004.jpg'));
  assert.equal(first.images.subarray(43 * 3072, 44 * 3072), cat.data, 'image 43 is the fifth cat');

  const all = loadDataset('cifar10-jpeg', 'test');
  assert.is(all.n, 10000);
  assert.equal(histogram(all.labels), new Array(10).fill(1000));
  assert.equal(all.images.subarray(0, 50 * 3072), first.images);
});

test('missing data gives an error naming where it looked and what to do', () => {
  const check = (load: () => unknown, ...fragments: string[]) =>
    assert.throws(load, (err: unknown) => err instanceof DatasetNotFoundError && fragments.every((f) => err.message.includes(f)), fragments.join(' | '));
  check(() => loadDataset('mnist', 'test', { root: '/nonexistent/data' }), '/nonexistent/data/mnist/t10k-images-idx3-ubyte.gz', 'PURIFY_DATA');
  const saved = process.env.PURIFY_DATA;
  process.env.PURIFY_DATA = '/elsewhere';
  try {
    check(() => loadDataset('cifar10-lossless', 'test'), '/elsewhere/cifar10/lossless');
  } finally {
    if (saved === undefined) delete process.env.PURIFY_DATA;
    else process.env.PURIFY_DATA = saved;
  }
});

test.run();
