import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { zipSync } from 'fflate';
import { type TensorMap, WeightFormatError } from '../../engine/io/raw-tensor.ts';
import { matchStateDict, parseWeights, readWeights, stripPrefix } from '../../engine/io/load.ts';
import { writeNpy } from '../../engine/io/npy.ts';
import { writeSafetensors } from '../../engine/io/safetensors.ts';
import { FRANFEE_PTH, RESNET20_TH, type TensorSpec, f32Bytes, legacyCheckpoint, readShared, stateDictPickle, zipCheckpoint } from './fixtures.ts';

const WEIGHT: TensorSpec = { storageKey: '0', storageType: 'FloatStorage', storageElements: 2, offset: 0, shape: [2], strides: [1] };
const TENSORS: TensorMap = new Map([['w', { dtype: 'f32', shape: [2], data: Float32Array.from([1, 2]) }]]);

test('sniffs every supported format from content', () => {
  const candidates: Record<string, Uint8Array> = {
    safetensors: writeSafetensors(TENSORS),
    npz: zipSync({ 'w.npy': writeNpy(TENSORS.get('w')!) }),
    'pytorch zip': zipCheckpoint(stateDictPickle({ w: WEIGHT }, false), { '0': f32Bytes([1, 2]) }),
    'pytorch legacy': legacyCheckpoint(stateDictPickle({ w: WEIGHT }, true), { '0': { elements: 2, bytes: f32Bytes([1, 2]) } }),
  };
  for (const [format, bytes] of Object.entries(candidates)) {
    const tensors = parseWeights(bytes, format);
    assert.equal([...tensors.keys()], ['w'], format);
    assert.equal(Array.from(tensors.get('w')!.data as Float32Array), [1, 2], format);
  }
});

test('unrecognised content fails as a weight format error', () => {
  for (const bytes of [zipSync({ 'a.txt': new Uint8Array(1) }), writeNpy(TENSORS.get('w')!), new TextEncoder().encode('hello world, not weights')]) {
    assert.throws(() => parseWeights(bytes, 'mystery.bin'), (error: unknown) => error instanceof WeightFormatError && /^mystery\.bin: /.test(error.message));
  }
});

test('matchStateDict lists missing, unexpected and mis-shaped keys in one error', () => {
  const expected = new Map([
    ['conv.weight', [4, 3, 3, 3]],
    ['conv.bias', [4]],
    ['fc.weight', [10, 4]],
  ]);
  const got: TensorMap = new Map([
    ['conv.weight', { dtype: 'f32', shape: [4, 3, 3, 3], data: new Float32Array(108) }],
    ['conv.bias', { dtype: 'f32', shape: [5], data: new Float32Array(5) }],
    ['head.weight', { dtype: 'f32', shape: [10, 4], data: new Float32Array(40) }],
  ]);
  matchStateDict(new Map([['conv.weight', [4, 3, 3, 3]]]), new Map([...got].slice(0, 1)));
  try {
    matchStateDict(expected, got, 'net.pth');
    assert.unreachable('mismatch not reported');
  } catch (error) {
    assert.instance(error, WeightFormatError);
    const message = (error as Error).message;
    assert.match(message, /^net\.pth does not match the model:/);
    assert.match(message, /missing \(1\):\n {4}fc\.weight \[10,4\]/);
    assert.match(message, /unexpected \(1\):\n {4}head\.weight \[10,4\]/);
    assert.match(message, /wrong shape \(1\):\n {4}conv\.bias: expected \[4\], got \[5\]/);
  }
});

test('stripPrefix removes the prefix where present and refuses collisions', () => {
  const tensor = TENSORS.get('w')!;
  const stripped = stripPrefix(new Map([['module.a', tensor], ['b', tensor]]), 'module.');
  assert.equal([...stripped.keys()], ['a', 'b']);
  assert.throws(() => stripPrefix(new Map([['module.a', tensor], ['a', tensor]]), 'module.'), /two tensors named a/);
});

const franfee = readShared(FRANFEE_PTH);
const resnet20 = readShared(RESNET20_TH);
if (franfee && resnet20) {
  test('readWeights reads the real checkpoints from their paths', async () => {
    assert.is((await readWeights(FRANFEE_PTH)).size, 133);
    assert.is((await readWeights(RESNET20_TH)).size, 97);
  });
}

test.run();
