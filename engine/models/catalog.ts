// Named models: where their weights live on disk (Node). from-bytes.ts builds them, so browsers and
// workers holding the bytes share the code. A name or a path may be given wherever a model is
// expected; the shipped MNIST defaults need no flags.
import { existsSync, statSync } from 'node:fs';
import { readWeights } from '../io/load.ts';
import { PACKAGE_ROOT, packageFile } from '../package-files.ts';
import type { Engine } from '../runtime.ts';
import { Params } from '../nn/params.ts';
import { DDPM_CIFAR10, ddpmStateDict, ddpmUnet, ddpmUnetSpecs } from './ddpm-unet.ts';
import { classifierFromWeights, cleanStateDict, denoiserFromWeights } from './from-bytes.ts';
import type { Classifier, Denoiser } from './types.ts';

const shared = (p: string) => `${process.env.PURIFY_DATA ?? PACKAGE_ROOT + '/../shared/data'}/${p}`;
const shipped = (p: string) => packageFile('weights', p);

/** Shipped file first, the original checkpoint in shared data second. */
function locate(name: string, candidates: string[]): string {
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`weights for ${name} not found (looked in ${candidates.join(', ')})`);
  return found;
}

const looksLikePath = (name: string) => /[\\/]|\.(safetensors|pth?|pt|th|ckpt|npz|bin)$/i.test(name);

/** A weight file given by path must exist and be a file; the message says which, in one line. */
function weightFile(path: string): string {
  if (!existsSync(path)) throw new Error(`${path}: no such weight file`);
  if (!statSync(path).isFile()) throw new Error(`${path}: is a directory, not a weight file`);
  return path;
}

export const DENOISERS = ['franfee-mnist', 'ddpm-cifar10'] as const;
export const CLASSIFIERS = ['mnist-cnn', 'mnist-guidance', 'resnet20', 'resnet56'] as const;

/** The weight file a denoiser name (or path) loads from; reports hash it. */
export function denoiserPath(name: string): string {
  // google/ddpm-cifar10-32 (diffusers UNet2DModel) is not redistributed here: download its
  // diffusion_pytorch_model.safetensors and pass the path, or put it in weights/ddpm-cifar10-32.safetensors.
  const path = name === 'franfee-mnist' ? locate(name, [shipped('franfee-ddpm-mnist.safetensors'), shared('weights/franfee-ddpm-mnist/model_unet_res.pth')])
    : name === 'ddpm-cifar10' ? locate(name, [shipped('ddpm-cifar10-32.safetensors')])
    : looksLikePath(name) || existsSync(name) ? weightFile(name)
    : null;
  if (!path) throw new Error(`unknown denoiser "${name}"; known: ${DENOISERS.join(', ')} (or a path to a weight file)`);
  return path;
}

/** The weight file a classifier name (or path) loads from. */
export function classifierPath(name: string): string {
  const resnet = name.match(/resnet(20|56)/);
  if (!resnet) return looksLikePath(name) || existsSync(name) ? weightFile(name) : locate(name, [shipped(`${name}.safetensors`)]);
  const file = resnet[1] === '20' ? 'resnet20-12fca82f.th' : 'resnet56-4bfd9763.th';
  return looksLikePath(name) || existsSync(name) ? weightFile(name) : locate(name, [shipped(`resnet${resnet[1]}-cifar10.safetensors`), shared(`weights/akamaster-resnet-cifar10/${file}`)]);
}

export async function loadDenoiser(engine: Engine, name: string = 'franfee-mnist'): Promise<Denoiser> {
  const path = denoiserPath(name);
  const weights = await readWeights(path);
  // Any file name will do (e.g. one written by `purify train ddpm`): the weight names tell the architecture.
  if (cleanStateDict(weights).has('pe.embedding.weight')) return denoiserFromWeights(engine, weights, path);
  return ddpmUnet(Params.load(engine, ddpmUnetSpecs(DDPM_CIFAR10), ddpmStateDict(weights), path), DDPM_CIFAR10);
}

export async function loadClassifier(engine: Engine, name: string = 'mnist-cnn'): Promise<Classifier> {
  const path = classifierPath(name);
  return classifierFromWeights(engine, name, await readWeights(path), path);
}
