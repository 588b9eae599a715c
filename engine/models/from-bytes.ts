// Builds the shipped models from weights already in memory — bytes fetched by a browser, posted to
// a worker, or read by catalog.ts — so nothing here touches the file system. The model's name picks
// its architecture, as in the catalog.
import { parseWeights, stripPrefix } from '../io/load.ts';
import type { TensorMap } from '../io/raw-tensor.ts';
import { Params } from '../nn/params.ts';
import type { Engine } from '../runtime.ts';
import { franfeeDenoiser } from './franfee-denoiser.ts';
import { franfeeSpecs } from './franfee-unet.ts';
import { resnetCifar, resnetCifarSpecs } from './resnet-cifar.ts';
import { MNIST_CLASSIFIER, MNIST_GUIDANCE, cnnClassifier, cnnConfigFromShapes, cnnSpecs } from './small-cnn.ts';
import type { Classifier, Denoiser } from './types.ts';

/** Checkpoints wrap state dicts in objects and prefixes; BatchNorm's step counter is not a weight. */
export function cleanStateDict(map: TensorMap): TensorMap {
  const stripped = [...map.keys()].every((k) => k.startsWith('module.')) ? stripPrefix(map, 'module.') : map;
  return new Map([...stripped].filter(([k]) => !k.endsWith('num_batches_tracked')));
}

/** The Franfee MNIST DDPM (the only denoiser architecture so far). */
export function denoiserFromWeights(engine: Engine, weights: TensorMap, source = 'weights'): Denoiser {
  return franfeeDenoiser(Params.load(engine, franfeeSpecs(), cleanStateDict(weights), source));
}

/** `name` picks the architecture: resnet20/resnet56, *guidance* (c_φ) or the MNIST classifier. */
export function classifierFromWeights(engine: Engine, name: string, weights: TensorMap, source = name): Classifier {
  const clean = cleanStateDict(weights);
  const resnet = name.match(/resnet(20|56)/);
  if (resnet) {
    const blocks = resnet[1] === '20' ? 3 : 9;
    return resnetCifar(Params.load(engine, resnetCifarSpecs(blocks), clean, source), blocks, `resnet${resnet[1]}`);
  }
  // Widths come from the weights (a retrained c_φ may differ); the name only breaks a non-CNN tie.
  const cfg = cnnConfigFromShapes(new Map([...clean].map(([k, t]) => [k, t.shape]))) ?? (name.includes('guidance') ? MNIST_GUIDANCE : MNIST_CLASSIFIER);
  return cnnClassifier(Params.load(engine, cnnSpecs(cfg), clean, source), cfg, name.replace(/^.*\//, '').replace(/\.safetensors$/, ''));
}

/** Any supported weight format (safetensors, PyTorch zip or legacy, npz), sniffed from content. */
export function denoiserFromBytes(engine: Engine, bytes: Uint8Array, source = 'denoiser weights'): Denoiser {
  return denoiserFromWeights(engine, parseWeights(bytes, source), source);
}

export function classifierFromBytes(engine: Engine, name: string, bytes: Uint8Array): Classifier {
  return classifierFromWeights(engine, name, parseWeights(bytes, name), name);
}
