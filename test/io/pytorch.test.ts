import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { zipSync } from 'fflate';
import { type TensorMap, WeightFormatError, toFloat32 } from '../../engine/io/raw-tensor.ts';
import { readPytorch, readPytorchObject } from '../../engine/io/pytorch.ts';
import { matchStateDict, stripPrefix } from '../../engine/io/state-dict.ts';
import {
  FRANFEE_PTH,
  RESNET20_TH,
  RESNET56_TH,
  type TensorSpec,
  f32Bytes,
  legacyCheckpoint,
  readShared,
  stateDictPickle,
  zipCheckpoint,
} from './fixtures.ts';

/** Names and shapes of franfee's MNIST UNet, derived from the architecture in shared/data/README.md. */
function franfeeShapes(): Map<string, number[]> {
  const shapes = new Map<string, number[]>([['pe.embedding.weight', [1000, 128]]]);
  const block = (name: string, inputs: number, outputs: number, resolution: number) => {
    shapes.set(`${name}.ln.weight`, [inputs, resolution, resolution]);
    shapes.set(`${name}.ln.bias`, [inputs, resolution, resolution]);
    shapes.set(`${name}.conv1.weight`, [outputs, inputs, 3, 3]);
    shapes.set(`${name}.conv1.bias`, [outputs]);
    shapes.set(`${name}.conv2.weight`, [outputs, outputs, 3, 3]);
    shapes.set(`${name}.conv2.bias`, [outputs]);
    if (inputs !== outputs) {
      shapes.set(`${name}.residual_conv.weight`, [outputs, inputs, 1, 1]);
      shapes.set(`${name}.residual_conv.bias`, [outputs]);
    }
  };
  const linear = (name: string, inputs: number, outputs: number) => {
    shapes.set(`${name}.weight`, [outputs, inputs]);
    shapes.set(`${name}.bias`, [outputs]);
  };
  const channels = [10, 20, 40];
  const resolutions = [28, 14, 7];
  const inputs = [1, 10, 20];
  channels.forEach((c, i) => {
    block(`encoders.${i}.0`, inputs[i], c, resolutions[i]);
    block(`encoders.${i}.1`, c, c, resolutions[i]);
    linear(`pe_linears_en.${i}.0`, 128, inputs[i]);
    linear(`pe_linears_en.${i}.2`, inputs[i], inputs[i]);
    shapes.set(`downs.${i}.weight`, [c, c, 2, 2]);
    shapes.set(`downs.${i}.bias`, [c]);
  });
  [40, 20, 10].forEach((c, i) => {
    const resolution = resolutions[2 - i];
    block(`decoders.${i}.0`, 2 * c, c, resolution);
    block(`decoders.${i}.1`, c, c, resolution);
    linear(`pe_linears_de.${i}`, 128, 2 * c);
    shapes.set(`ups.${i}.weight`, [2 * c, c, 2, 2]);
    shapes.set(`ups.${i}.bias`, [c]);
  });
  linear('pe_mid', 128, 40);
  block('mid.0', 40, 80, 3);
  block('mid.1', 80, 80, 3);
  shapes.set('conv_out.weight', [1, 10, 3, 3]);
  shapes.set('conv_out.bias', [1]);
  return shapes;
}

/** He et al.'s CIFAR ResNet-(6n+2) state dict as akamaster saved it (pre-0.4.1 BatchNorm: no num_batches_tracked). */
function cifarResnetShapes(blocksPerStage: number): Map<string, number[]> {
  const shapes = new Map<string, number[]>([['conv1.weight', [16, 3, 3, 3]]]);
  const batchNorm = (name: string, channels: number) => {
    for (const field of ['weight', 'bias', 'running_mean', 'running_var']) shapes.set(`${name}.${field}`, [channels]);
  };
  batchNorm('bn1', 16);
  [16, 32, 64].forEach((channels, stage) => {
    for (let block = 0; block < blocksPerStage; block++) {
      const inputs = block === 0 && stage > 0 ? channels / 2 : channels;
      const name = `layer${stage + 1}.${block}`;
      shapes.set(`${name}.conv1.weight`, [channels, inputs, 3, 3]);
      batchNorm(`${name}.bn1`, channels);
      shapes.set(`${name}.conv2.weight`, [channels, channels, 3, 3]);
      batchNorm(`${name}.bn2`, channels);
    }
  });
  shapes.set('linear.weight', [10, 64]);
  shapes.set('linear.bias', [10]);
  return shapes;
}

function summarize(label: string, tensors: TensorMap): number {
  let elements = 0;
  const dtypes = new Set<string>();
  for (const tensor of tensors.values()) {
    elements += tensor.data.length;
    dtypes.add(tensor.dtype);
  }
  console.log(`  ${label}: ${tensors.size} tensors, ${elements} elements, dtypes ${[...dtypes]}`);
  return elements;
}

const franfee = readShared(FRANFEE_PTH);
if (franfee) {
  test('franfee DDPM (zip format) has exactly the UNet state dict', () => {
    const tensors = readPytorch(franfee, 'model_unet_res.pth');
    matchStateDict(franfeeShapes(), tensors, 'model_unet_res.pth');
    assert.is(tensors.size, 133);
    assert.is(summarize('franfee', tensors), 543_950 + 128_000);
    assert.ok([...tensors.values()].every((tensor) => tensor.dtype === 'f32'));
    // Row t of the time table interleaves sin and cos of t / 10000^(2i/128).
    const table = tensors.get('pe.embedding.weight')!.data as Float32Array;
    assert.ok(Math.abs(table[128] - Math.sin(1)) < 1e-6 && Math.abs(table[129] - Math.cos(1)) < 1e-6);
  });
}

for (const [path, blocks, label] of [
  [RESNET20_TH, 3, 'resnet20'],
  [RESNET56_TH, 9, 'resnet56'],
] as const) {
  const bytes = readShared(path);
  if (!bytes) continue;
  test(`${label} (legacy format) has exactly the CIFAR ResNet state dict under module.`, () => {
    const tensors = readPytorch(bytes, label);
    assert.throws(() => matchStateDict(cifarResnetShapes(blocks), tensors, label), /prefix "module\."/);
    matchStateDict(cifarResnetShapes(blocks), stripPrefix(tensors, 'module.'), label);
    summarize(label, tensors);
    const checkpoint = readPytorchObject(bytes, label) as Map<string, unknown>;
    assert.equal([...checkpoint.keys()], ['best_prec1', 'state_dict']);
    console.log(`  ${label}: best_prec1 ${checkpoint.get('best_prec1')}`);
  });
}

// Storage 'flat' holds 0..11; the tensors below are views into it that torch.save writes without copying.
const VIEWS: Record<string, TensorSpec> = {
  transposed: { storageKey: 'flat', storageType: 'FloatStorage', storageElements: 12, offset: 0, shape: [3, 4], strides: [1, 3] },
  sliced: { storageKey: 'flat', storageType: 'FloatStorage', storageElements: 12, offset: 2, shape: [2], strides: [5] },
  scalar: { storageKey: 'flat', storageType: 'FloatStorage', storageElements: 12, offset: 11, shape: [], strides: [] },
  expanded: { storageKey: 'flat', storageType: 'FloatStorage', storageElements: 12, offset: 1, shape: [2, 3], strides: [0, 1] },
  parameter: { storageKey: 'flat', storageType: 'FloatStorage', storageElements: 12, offset: 4, shape: [2], strides: [1], parameter: true },
  half: { storageKey: 'h', storageType: 'HalfStorage', storageElements: 3, offset: 0, shape: [3], strides: [1] },
  steps: { storageKey: 'n', storageType: 'LongStorage', storageElements: 1, offset: 0, shape: [], strides: [] },
};
const STORAGE_BYTES: Record<string, Uint8Array> = {
  flat: f32Bytes(Array.from({ length: 12 }, (_, i) => i)),
  h: new Uint8Array(Uint16Array.from([0x3c00, 0xc000, 0x3800]).buffer),
  n: new Uint8Array(BigInt64Array.from([42n]).buffer),
};
const STORAGE_ELEMENTS: Record<string, number> = { flat: 12, h: 3, n: 1 };

function checkViews(tensors: TensorMap): void {
  const floats = (name: string) => Array.from(toFloat32(tensors.get(name)!));
  assert.equal([...tensors.keys()], Object.keys(VIEWS));
  assert.equal(floats('transposed'), [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
  assert.equal(tensors.get('transposed')!.shape, [3, 4]);
  assert.equal(floats('sliced'), [2, 7]);
  assert.equal([tensors.get('scalar')!.shape, floats('scalar')], [[], [11]]);
  assert.equal(floats('expanded'), [1, 2, 3, 1, 2, 3]);
  assert.equal(floats('parameter'), [4, 5]);
  assert.equal([tensors.get('half')!.dtype, floats('half')], ['f16', [1, -2, 0.5]]);
  assert.equal([tensors.get('steps')!.dtype, Array.from(tensors.get('steps')!.data as BigInt64Array)], ['i64', [42n]]);
}

function legacyStorages(keys = Object.keys(STORAGE_BYTES)) {
  return Object.fromEntries(keys.map((key) => [key, { elements: STORAGE_ELEMENTS[key], bytes: STORAGE_BYTES[key] }]));
}

function rejects(read: () => unknown, pattern: RegExp): void {
  assert.throws(read, (error: unknown) => error instanceof WeightFormatError && pattern.test(error.message));
}

test('zip checkpoint: strided, offset, expanded, scalar, parameter, f16 and i64 tensors', () => {
  checkViews(readPytorch(zipCheckpoint(stateDictPickle(VIEWS, false), STORAGE_BYTES)));
});

test('zip checkpoint: the state dict is found inside a wrapping dict', () => {
  const bytes = zipCheckpoint(stateDictPickle(VIEWS, false, 'model_state_dict'), STORAGE_BYTES);
  checkViews(readPytorch(bytes));
  assert.is((readPytorchObject(bytes) as Map<string, unknown>).get('epoch'), 7);
});

test('legacy checkpoint: the same tensors from the pre-zip stream format', () => {
  checkViews(readPytorch(legacyCheckpoint(stateDictPickle(VIEWS, true, 'state_dict'), legacyStorages())));
});

test('views beyond their storage are rejected by tensor name', () => {
  const outside = { ...VIEWS.sliced, offset: 10 };
  rejects(() => readPytorch(zipCheckpoint(stateDictPickle({ 'layer.bias': outside }, false), STORAGE_BYTES), 'x.pth'), /x\.pth: tensor layer\.bias: shape \[2\] stride \[5\] at offset 10 exceeds/);
});

test('zip checkpoint: missing or mis-sized storage records, big-endian and non-checkpoint zips', () => {
  const pickle = stateDictPickle(VIEWS, false);
  rejects(() => readPytorch(zipCheckpoint(pickle, { ...STORAGE_BYTES, h: new Uint8Array(0) })), /archive\/data\/h should hold 6 bytes, found 0/);
  const { n: _, ...withoutN } = STORAGE_BYTES;
  rejects(() => readPytorch(zipCheckpoint(pickle, withoutN)), /archive\/data\/n should hold 8 bytes, found none/);
  const bigEndian = zipSync({ 'a/data.pkl': pickle, 'a/byteorder': new TextEncoder().encode('big') });
  rejects(() => readPytorch(bigEndian), /big-endian/);
  rejects(() => readPytorch(zipSync({ 'readme.txt': new Uint8Array(3) })), /no data\.pkl/);
});

test('legacy checkpoint: element count mismatch, truncation, trailing bytes', () => {
  const pickle = stateDictPickle(VIEWS, true);
  const storages = legacyStorages();
  rejects(() => readPytorch(legacyCheckpoint(pickle, { ...storages, n: { elements: 2, bytes: new Uint8Array(16) } })), /records 2 elements, the pickle declared 1/);
  const good = legacyCheckpoint(pickle, storages);
  rejects(() => readPytorch(good.subarray(0, good.length - 3)), /storage n is truncated/);
  rejects(() => readPytorch(Uint8Array.from([...good, 0])), /1 unexpected bytes/);
  rejects(() => readPytorch(legacyCheckpoint(pickle, legacyStorages(['flat', 'h']))), /storage n has no data/);
});

test.run();
