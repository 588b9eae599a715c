/// <reference types="@webgpu/types" />
// The package's browser entry (`purify-gpu/browser`): createPurifier() on navigator.gpu, models
// fetched from a URL (default: ./weights/ beside the page) or given as bytes. Everything after
// loading is the shared Purifier (engine/purify/session.ts), so a browser purifies exactly as Node.
import { wrap, type Remote } from 'comlink';
import { classifierFromBytes, denoiserFromBytes } from '../engine/models/from-bytes.ts';
import { PURIFY_DEFAULTS, type ModelRole } from '../engine/purify/defaults.ts';
import { Purifier, type SessionOptions } from '../engine/purify/session.ts';
import { Engine } from '../engine/runtime.ts';
import type { PurifierApi } from '../workers/api.ts';
import { webGpuHelp } from './webgpu-help.ts';

export { webGpuHelp } from './webgpu-help.ts';

export { Purifier, ModelMismatchError, type PurifyCall, type PurifyResult, type SessionOptions } from '../engine/purify/session.ts';
export { PURIFY_DEFAULTS, METHODS, resolvePurifyOptions, InvalidOptionError, type PurifySettings } from '../engine/purify/defaults.ts';
export { toImageBatch, DEFAULT_MAX_PIXELS, type PurifyInput, type ImageDataLike, type ImageBatch } from '../engine/purify/input.ts';
export { InvalidImageError } from '../engine/data/image-bytes.ts';
export { ImageFormatError, ImageTooLargeError } from '../engine/data/png.ts';
export { DeviceLostError } from '../engine/runtime.ts';
export { NoAdapterError } from '../engine/device.ts';
export type { Method } from '../engine/purify/purifier.ts';
export type { PurifierApi, PurifierConfig, PurifyRequest, AttackRequest, ImageBatch as WorkerImageBatch, StepProgress, WorkerInfo } from '../workers/api.ts';

/** A model's weights: a URL to fetch, the file's bytes, or false for none. */
export type WeightSource = string | URL | Uint8Array | false;

export interface BrowserPurifierOptions extends SessionOptions {
  /** Where the shipped weight files are served (default './weights/', relative to the page). */
  weightsUrl?: string | URL;
  denoiser?: Exclude<WeightSource, false>;
  guidance?: WeightSource;
  classifier?: WeightSource;
}

export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
}

async function weights(role: ModelRole, source: WeightSource | undefined, base: string | URL): Promise<Uint8Array | undefined> {
  if (source === false) return undefined;
  if (source instanceof Uint8Array) return source;
  const url = new URL(source ?? PURIFY_DEFAULTS.weightFiles[role], new URL(base, typeof location === 'undefined' ? undefined : location.href));
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${role} weights: ${url} answered ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function createPurifier(options: BrowserPurifierOptions = {}): Promise<Purifier> {
  const { weightsUrl = './weights/', denoiser, guidance, classifier, ...session } = options;
  const help = webGpuHelp();
  if (help) throw new WebGpuUnavailableError(help);
  const [d, g, c] = await Promise.all([weights('denoiser', denoiser, weightsUrl), weights('guidance', guidance, weightsUrl), weights('classifier', classifier, weightsUrl)]);
  const engine = await Engine.create();
  try {
    const models = {
      denoiser: denoiserFromBytes(engine, d!, PURIFY_DEFAULTS.models.denoiser),
      guidance: g && classifierFromBytes(engine, PURIFY_DEFAULTS.models.guidance, g),
      classifier: c && classifierFromBytes(engine, PURIFY_DEFAULTS.models.classifier, c),
    };
    return new Purifier(engine, models, session);
  } catch (err) {
    engine.destroy();
    throw err;
  }
}

/**
 * The same work off the main thread: `purify-gpu/browser/worker` (dist/browser/purifier.worker.js)
 * started as a module Web Worker serves PurifierApi; this wraps it (Comlink). Call init() with the
 * weights' bytes first, e.g. connectPurifierWorker(new Worker(workerUrl, { type: 'module' })).
 */
export function connectPurifierWorker(worker: Worker): Remote<PurifierApi> {
  return wrap(worker);
}
