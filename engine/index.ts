/// <reference types="@webgpu/types" />
// The package's entry point (Node): the purifier API first, then the engine underneath it.
export { createPurifier, type CreatePurifierOptions } from './purify/create-purifier.ts';
export { Purifier, ModelMismatchError, assertModelsFit, type PurifierModels, type PurifyCall, type PurifyResult, type SessionOptions } from './purify/session.ts';
export { PURIFY_DEFAULTS, METHODS, resolvePurifyOptions, InvalidOptionError, type PurifySettings, type MethodDefaults } from './purify/defaults.ts';
export { toImageBatch, DEFAULT_MAX_PIXELS, type PurifyInput, type ImageDataLike, type InputOptions, type ImageBatch } from './purify/input.ts';
export { purify, type Method, type PurifyOptions } from './purify/purifier.ts';
export { InvalidImageError, decodeImageBytes, encodePlanarPng } from './data/image-bytes.ts';
export { ImageFormatError, ImageTooLargeError } from './data/png.ts';
export { DatasetNotFoundError, loadDataset, type Dataset } from './data/datasets.ts';
export { loadClassifier, loadDenoiser } from './models/catalog.ts';
export { classifierFromBytes, denoiserFromBytes } from './models/from-bytes.ts';
export type { Classifier, Denoiser } from './models/types.ts';
export { Engine, Uniforms, type KernelSpec, type EngineStats, DeviceLostError } from './runtime.ts';
export { Tensor } from './tensor.ts';
export { valueAndGrad } from './autograd.ts';
export { listAdapters, preferredAdapter, acquireDevice, describeContext, NoAdapterError, type DeviceOptions } from './device.ts';
export * as ops from './ops/index.ts';
export { precompileAll } from './ops/index.ts';
