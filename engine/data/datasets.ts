// Dataset loaders: every set comes out as N×C×H×W floats in [0, 1] plus uint8 labels.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT, packageFile } from '../package-files.ts';
import { readIdxFile } from './idx.ts';
import { colorChannels, decodeImageBytes } from './image-bytes.ts';

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10-lossless' | 'cifar10-jpeg';
export type DatasetSplit = 'train' | 'test';

export interface Dataset {
  /** N×C×H×W, values in [0, 1]. */
  images: Float32Array;
  labels: Uint8Array;
  n: number;
  channels: number;
  height: number;
  width: number;
  classNames: string[];
}

export interface LoadDatasetOptions {
  /** Load only the first `limit` images (in the order documented on `loadDataset`). */
  limit?: number;
  /** Folder holding mnist/ and cifar10/; defaults to $PURIFY_DATA, then ../shared/data beside the package, then the package's own data/ (the first 256 MNIST test images). */
  root?: string;
}

export class DatasetNotFoundError extends Error {
  override name = 'DatasetNotFoundError';
}

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';
const MNIST_SIDE = 28;
const MNIST_SHEET_ROWS = 3000;
const MNIST_TRAIN_SHEETS = 20;
const CIFAR_SIDE = 32;

/** Pixels kept as bytes (N×C×H×W) so the cache holds a quarter of what the floats would. */
interface ByteDataset {
  pixels: Uint8Array;
  labels: Uint8Array;
  n: number;
  /** How many images the full split has, to know whether a cached prefix can serve a request. */
  total: number;
  channels: number;
  height: number;
  width: number;
}

const BESIDE_PACKAGE = join(PACKAGE_ROOT, '../shared/data');
/** The MNIST test slice the package ships, so demos work from any install. */
export const SHIPPED_DATA = packageFile('data');

export function dataRoot(root?: string): string {
  return resolve(root ?? process.env.PURIFY_DATA ?? (existsSync(BESIDE_PACKAGE) ? BESIDE_PACKAGE : SHIPPED_DATA));
}

const ROOT_HINT = `Set PURIFY_DATA or the \`root\` option to the folder holding mnist/ and cifar10/ (default: ../shared/data beside the package, else the package's data/ with the first 256 MNIST test images).`;
const FASHION_HINT = `Install Debian's package: apt-get install dataset-fashion-mnist (it puts the files in ${FASHION_MNIST_SYSTEM_DIR}).`;

function firstExisting(what: string, candidates: string[], hint: string): string {
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new DatasetNotFoundError(`${what} not found; looked for:\n  ${candidates.join('\n  ')}\n${hint}`);
  return found;
}

/** MNIST-style IDX pair: `<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]`. */
function loadIdxPair(dirs: string[], prefix: string, limit: number, hint: string): ByteDataset {
  const find = (kind: string) => {
    const file = `${prefix}-${kind}-ubyte`;
    return firstExisting(file, dirs.flatMap((dir) => [join(dir, `${file}.gz`), join(dir, file)]), hint);
  };
  const images = readIdxFile(find('images-idx3'));
  const labels = readIdxFile(find('labels-idx1'));
  const [total, height, width] = images.dims;
  if (images.dims.length !== 3 || labels.dims.length !== 1 || labels.dims[0] !== total) {
    throw new RangeError(`${prefix}: images [${images.dims}] and labels [${labels.dims}] do not match`);
  }
  const n = Math.min(limit, total);
  const plane = height * width;
  return { pixels: images.data.subarray(0, n * plane), labels: labels.data.subarray(0, n), n, total, channels: 1, height, width };
}

/** MNIST train images ship as PNG sheets, one 28×28 image per 784-pixel row, 3000 images a sheet. */
function loadMnistTrain(root: string, limit: number): ByteDataset {
  const dir = join(root, 'mnist');
  const labels = readIdxFile(firstExisting('MNIST train labels', [join(dir, 'train-labels-idx1-ubyte.gz')], ROOT_HINT)).data;
  const total = MNIST_TRAIN_SHEETS * MNIST_SHEET_ROWS;
  if (labels.length !== total) throw new RangeError(`MNIST train labels: expected ${total}, found ${labels.length}`);
  const n = Math.min(limit, total);
  const plane = MNIST_SIDE * MNIST_SIDE;
  const pixels = new Uint8Array(n * plane);
  for (let sheet = 0; sheet * MNIST_SHEET_ROWS < n; sheet++) {
    const path = firstExisting('MNIST train sheet', [join(dir, 'train-png', `mnist_batch_${sheet}.png`)], ROOT_HINT);
    const image = decodeImageBytes(readFileSync(path), path);
    if (image.width !== plane || image.height !== MNIST_SHEET_ROWS) {
      throw new RangeError(`${path}: expected ${plane}x${MNIST_SHEET_ROWS}, got ${image.width}x${image.height}`);
    }
    const first = sheet * MNIST_SHEET_ROWS;
    const count = Math.min(MNIST_SHEET_ROWS, n - first);
    // Sheets could be saved with more than one channel; the first one carries the gray value.
    for (let p = 0; p < count * plane; p++) pixels[first * plane + p] = image.data[p * image.channels];
  }
  return { pixels, labels: labels.subarray(0, n), n, total, channels: 1, height: MNIST_SIDE, width: MNIST_SIDE };
}

function loadImageFiles(paths: string[], labels: number[], total: number): ByteDataset {
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  const pixels = new Uint8Array(paths.length * 3 * plane);
  paths.forEach((path, i) => {
    const image = decodeImageBytes(readFileSync(path), path);
    if (image.width !== CIFAR_SIDE || image.height !== CIFAR_SIDE || colorChannels(image) !== 3) {
      throw new RangeError(`${path}: expected a 32x32 color image, got ${image.width}x${image.height}x${image.channels}`);
    }
    for (let ch = 0; ch < 3; ch++) {
      const base = (i * 3 + ch) * plane;
      for (let p = 0; p < plane; p++) pixels[base + p] = image.data[p * image.channels + ch];
    }
  });
  return { pixels, labels: Uint8Array.from(labels), n: paths.length, total, channels: 3, height: CIFAR_SIDE, width: CIFAR_SIDE };
}

/** `cifar10_NN_L.png`: test image NN with label L. */
function loadCifarLossless(root: string, limit: number): ByteDataset {
  const dir = firstExisting('CIFAR-10 lossless fixtures', [join(root, 'cifar10', 'lossless')], ROOT_HINT);
  const files = readdirSync(dir)
    .map((name) => ({ name, match: /^cifar10_(\d+)_(\d)\.png$/.exec(name) }))
    .filter((f) => f.match)
    .map((f) => ({ path: join(dir, f.name), index: Number(f.match![1]), label: Number(f.match![2]) }))
    .sort((a, b) => a.index - b.index);
  if (files.some((f, i) => f.index !== i)) throw new RangeError(`${dir}: file indices are not 0..${files.length - 1}`);
  const chosen = files.slice(0, limit);
  return loadImageFiles(chosen.map((f) => f.path), chosen.map((f) => f.label), files.length);
}

/** Interleaves the class folders (one image of each class in turn) so any prefix is class-balanced. */
function loadCifarJpeg(root: string, limit: number): ByteDataset {
  const dir = join(root, 'cifar10', 'jpeg-test');
  const perClass = CIFAR10_CLASSES.map((name) => {
    const classDir = firstExisting(`CIFAR-10 JPEG folder ${name}`, [join(dir, name)], ROOT_HINT);
    return readdirSync(classDir).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(classDir, f));
  });
  const total = perClass.reduce((sum, files) => sum + files.length, 0);
  const paths: string[] = [];
  const labels: number[] = [];
  for (let round = 0; paths.length < Math.min(limit, total); round++) {
    perClass.forEach((files, label) => {
      if (round < files.length && paths.length < limit) {
        paths.push(files[round]);
        labels.push(label);
      }
    });
  }
  return loadImageFiles(paths, labels, total);
}

function loadBytes(name: DatasetName, split: DatasetSplit, root: string, limit: number): ByteDataset {
  if (name.startsWith('cifar10') && split === 'train') {
    throw new RangeError(`${name} has only a test split (the CIFAR-10 training set is not in the data folder)`);
  }
  switch (name) {
    case 'mnist':
      return split === 'train' ? loadMnistTrain(root, limit) : loadIdxPair([join(root, 'mnist')], 't10k', limit, ROOT_HINT);
    case 'fashion-mnist':
      return loadIdxPair([join(root, 'fashion-mnist'), FASHION_MNIST_SYSTEM_DIR], split === 'train' ? 'train' : 't10k', limit, FASHION_HINT);
    case 'cifar10-lossless':
      return loadCifarLossless(root, limit);
    case 'cifar10-jpeg':
      return loadCifarJpeg(root, limit);
    default:
      throw new RangeError(`unknown dataset ${name satisfies never}`);
  }
}

const CLASS_NAMES: Record<DatasetName, string[]> = {
  'mnist': MNIST_CLASSES,
  'fashion-mnist': FASHION_MNIST_CLASSES,
  'cifar10-lossless': CIFAR10_CLASSES,
  'cifar10-jpeg': CIFAR10_CLASSES,
};

const cache = new Map<string, ByteDataset>();

/**
 * Loads a split, caching decoded bytes so repeated loads (e.g. per-epoch) skip decoding.
 * Order: the original order for MNIST, Fashion-MNIST and cifar10-lossless; for cifar10-jpeg,
 * class folders interleaved: image i is number floor(i / 10) of class i % 10 (the files do not
 * record the original test-set order across classes).
 */
export function loadDataset(name: DatasetName, split: DatasetSplit, opts: LoadDatasetOptions = {}): Dataset {
  const limit = opts.limit ?? Infinity;
  if (limit !== Infinity && !(Number.isInteger(limit) && limit >= 0)) throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  const root = dataRoot(opts.root);
  const key = `${name}:${split}:${root}`;
  let bytes = cache.get(key);
  if (!bytes || bytes.n < Math.min(limit, bytes.total)) {
    bytes = loadBytes(name, split, root, limit);
    cache.set(key, bytes);
  }
  const n = Math.min(limit, bytes.n);
  const { channels, height, width } = bytes;
  const source = bytes.pixels.subarray(0, n * channels * height * width);
  const images = new Float32Array(source.length);
  for (let i = 0; i < source.length; i++) images[i] = source[i] / 255;
  return { images, labels: bytes.labels.slice(0, n), n, channels, height, width, classNames: [...CLASS_NAMES[name]] };
}
