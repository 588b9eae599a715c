import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toFloat32 } from '../../engine/io/raw-tensor.ts';
import { readSafetensors, readSafetensorsMetadata } from '../../engine/io/safetensors.ts';
import { convert } from '../../tools/convert.ts';
import { RESNET20_TH, type TensorSpec, f32Bytes, readShared, stateDictPickle, zipCheckpoint } from './fixtures.ts';

const workDir = mkdtempSync(join(tmpdir(), 'convert-test-'));
const spec = (shape: number[], elements: number): TensorSpec => ({ storageKey: 'w', storageType: 'FloatStorage', storageElements: elements, offset: 0, shape, strides: [1] });

test('converts a checkpoint to safetensors, recording its name and sha256', async () => {
  const input = join(workDir, 'tiny.pth');
  const bytes = zipCheckpoint(stateDictPickle({ 'module.w': spec([3], 3) }, false), { w: f32Bytes([0.5, -1, 70000]) });
  writeFileSync(input, bytes);
  const output = join(workDir, 'tiny.safetensors');
  const result = await convert(input, output, { stripPrefix: 'module.' });
  const written = new Uint8Array(readFileSync(output));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  assert.equal(readSafetensorsMetadata(written), { source: 'tiny.pth', source_sha256: sha256 });
  assert.equal(result, { tensorCount: 1, outputBytes: written.length, sourceSha256: sha256 });
  assert.equal(Array.from(readSafetensors(written).get('w')!.data as Float32Array), [0.5, -1, 70000]);
});

test('f16 conversion refuses values beyond the f16 range', async () => {
  const input = join(workDir, 'big.pth');
  writeFileSync(input, zipCheckpoint(stateDictPickle({ w: spec([2], 2) }, false), { w: f32Bytes([1, 70000]) }));
  let message = '';
  await convert(input, join(workDir, 'big.safetensors'), { f16: true }).catch((error: Error) => (message = error.message));
  assert.match(message, /w: element 1 \(70000\) overflows f16/);
});

const resnet20 = readShared(RESNET20_TH);
if (resnet20) {
  test('resnet20 converts to f16 safetensors within f16 precision', async () => {
    const output = join(workDir, 'resnet20.safetensors');
    await convert(RESNET20_TH, output, { f16: true, stripPrefix: 'module.' });
    const tensors = readSafetensors(new Uint8Array(readFileSync(output)));
    assert.is(tensors.size, 97);
    const weight = tensors.get('conv1.weight')!;
    assert.is(weight.dtype, 'f16');
    assert.equal(weight.shape, [16, 3, 3, 3]);
    assert.ok(toFloat32(weight).every(Number.isFinite));
  });
}

test.after(() => rmSync(workDir, { recursive: true, force: true }));

test.run();
