// Named models: where their weights live, how to read them, and how to build them. A name or a
// path may be given wherever a model is expected; the shipped MNIST defaults need no flags.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readWeights, stripPrefix } from '../io/load.ts';
import type { TensorMap } from '../io/raw-tensor.ts';
import { Params } from '../nn/params.ts';
import type { Engine } from '../runtime.ts';
import { franfeeDenoiser } from './franfee-denoiser.ts';
import { franfeeSpecs } from './franfee-unet.ts';
import { resnetCifar, resnetCifarSpecs } from './resnet-cifar.ts';
import { MNIST_CLASSIFIER, MNIST_GUIDANCE, cnnClassifier, cnnSpecs } from './small-cnn.ts';
import type { Classifier, Denoiser } from './types.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const shared = (p: string) => `${process.env.PURIFY_DATA ?? repoRoot + '../shared/data'}/${p}`;
const shipped = (p: string) => `${repoRoot}weights/${p}`;

/** Shipped file first, the original checkpoint in shared data second. */
function locate(name: string, candidates: string[]): string {
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`weights for ${name} not found; looked in:\n  ${candidates.join('\n  ')}`);
  return found;
}

/** Checkpoints wrap state dicts in objects and prefixes; BatchNorm's step counter is not a weight. */
function cleanStateDict(map: TensorMap): TensorMap {
  const stripped = [...map.keys()].every((k) => k.startsWith('module.')) ? stripPrefix(map, 'module.') : map;
  return new Map([...stripped].filter(([k]) => !k.endsWith('num_batches_tracked')));
}

async function weightsAt(path: string): Promise<TensorMap> {
  return cleanStateDict(await readWeights(path));
}

export const DENOISERS = ['franfee-mnist'] as const;
export const CLASSIFIERS = ['mnist-cnn', 'mnist-guidance', 'resnet20', 'resnet56'] as const;

export async function loadDenoiser(engine: Engine, name: string = 'franfee-mnist'): Promise<Denoiser> {
  if (name === 'franfee-mnist' || name.includes('franfee') || name.endsWith('model_unet_res.pth')) {
    const path = existsSync(name) ? name : locate(name, [shipped('franfee-ddpm-mnist.safetensors'), shared('weights/franfee-ddpm-mnist/model_unet_res.pth')]);
    return franfeeDenoiser(Params.load(engine, franfeeSpecs(), await weightsAt(path), path));
  }
  throw new Error(`unknown denoiser "${name}"; known: ${DENOISERS.join(', ')} (or a path to a Franfee-layout file)`);
}

export async function loadClassifier(engine: Engine, name: string = 'mnist-cnn'): Promise<Classifier> {
  const resnet = name.match(/resnet(20|56)/);
  if (resnet) {
    const blocks = resnet[1] === '20' ? 3 : 9;
    const file = resnet[1] === '20' ? 'resnet20-12fca82f.th' : 'resnet56-4bfd9763.th';
    const path = existsSync(name) ? name : locate(name, [shipped(`resnet${resnet[1]}-cifar10.safetensors`), shared(`weights/akamaster-resnet-cifar10/${file}`)]);
    return resnetCifar(Params.load(engine, resnetCifarSpecs(blocks), await weightsAt(path), path), blocks, `resnet${resnet[1]}`);
  }
  const cfg = name.includes('guidance') ? MNIST_GUIDANCE : MNIST_CLASSIFIER;
  const path = existsSync(name) ? name : locate(name, [shipped(`${name}.safetensors`)]);
  return cnnClassifier(Params.load(engine, cnnSpecs(cfg), await weightsAt(path), path), cfg, name.replace(/^.*\//, '').replace(/\.safetensors$/, ''));
}
