// The small CNN's architecture is read back from its weights' shapes, so a c_φ retrained at other
// widths or depth loads under the shipped name without a config file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MNIST_CLASSIFIER, MNIST_GUIDANCE, cnnConfigFromShapes, cnnSpecs, type CnnConfig } from '../../engine/models/small-cnn.ts';

const configs: CnnConfig[] = [MNIST_CLASSIFIER, MNIST_GUIDANCE, { inChannels: 3, size: 32, channels: [8, 16, 24], hidden: 40, classes: 7 }, { inChannels: 1, size: 14, channels: [5], hidden: 3, classes: 2 }];

test('every config is recovered from the shapes of its own parameters', () => {
  for (const cfg of configs) assert.equal(cnnConfigFromShapes(cnnSpecs(cfg).shapes()), cfg, JSON.stringify(cfg));
});

test('weights that are not this CNN give null, not a guessed config', () => {
  const shapes = cnnSpecs(MNIST_GUIDANCE).shapes();
  const withoutHidden = new Map(shapes);
  withoutHidden.delete('hidden.weight');
  assert.is(cnnConfigFromShapes(withoutHidden), null, 'no hidden layer');
  const oddFlat = new Map(shapes).set('hidden.weight', [64, 32 * 7 * 7 + 1]);
  assert.is(cnnConfigFromShapes(oddFlat), null, 'flattened size not channels × a square');
  assert.is(cnnConfigFromShapes(new Map([['pe.embedding.weight', [1000, 32]]])), null, 'a denoiser');
});

test.run();
