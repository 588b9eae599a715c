// The public purifier over loaded models: images in (any PurifyInput), purified images and the
// classifier's labels out. Node's createPurifier (create-purifier.ts) and the browser's
// (web/browser.ts) differ only in how they get the engine and the models; both end here, as do the
// CLI's `purify run` and the workers, so one image gives the same bytes through every door.
import { encodePlanarPng, InvalidImageError } from '../data/image-bytes.ts';
import { argmaxRows } from '../eval/predict.ts';
import type { Classifier, Denoiser } from '../models/types.ts';
import { fromArray } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import { resolvePurifyOptions, type PurifySettings } from './defaults.ts';
import { toImageBatch, type ImageBatch, type InputOptions, type PurifyInput } from './input.ts';
import { purify, type PurifyOptions } from './purifier.ts';

export interface PurifierModels {
  denoiser: Denoiser;
  /** c_φ; agdm needs it. */
  guidance?: Classifier;
  /** The downstream classifier whose labels purify() reports. */
  classifier?: Classifier;
}

export class ModelMismatchError extends Error {
  override name = 'ModelMismatchError';
}

/** A classifier or guidance network must take exactly the images the denoiser produces. */
export function assertModelsFit({ denoiser, guidance, classifier }: PurifierModels): void {
  for (const [role, model] of [['classifier', classifier], ['guidance network', guidance]] as const) {
    if (model && model.imageShape.join('×') !== denoiser.imageShape.join('×')) {
      throw new ModelMismatchError(`${role} ${model.name} takes ${model.imageShape.join('×')} images, but denoiser ${denoiser.name} purifies ${denoiser.imageShape.join('×')}`);
    }
  }
}

export interface PurifyCall extends PurifySettings {
  /** Reverse steps done so far, over the whole call (all batches). */
  onStep?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface PurifyResult {
  /** N×C×H×W purified images in [0, 1]. */
  images: Float32Array;
  shape: ImageBatch['shape'];
  /** The classifier's labels for the purified images (null without a classifier). */
  labels: number[] | null;
  /** The options the chain ran with, defaults filled in, and the seed drawn when none was given. */
  options: Omit<PurifyOptions, 'onStep' | 'signal'>;
}

export interface SessionOptions extends PurifySettings, InputOptions {
  /** Images purified per GPU batch (the noise does not depend on it). Default 64. */
  batch?: number;
}

export class Purifier {
  /** The session's options, defaults filled in; the seed only where the session was given one. */
  readonly defaults: Omit<PurifyOptions, 'onStep' | 'signal' | 'seed'> & { seed?: number };
  private readonly batch: number;

  constructor(readonly engine: Engine, readonly models: PurifierModels, private readonly settings: SessionOptions = {}) {
    assertModelsFit(models);
    const { batch = 64, fit: _fit, maxPixels: _max, ...purifySettings } = settings;
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    this.batch = batch;
    // Resolving fills a seed; a session without one must draw a fresh seed per call, not per session.
    const { seed, ...resolved } = resolvePurifyOptions(purifySettings);
    this.defaults = purifySettings.seed === undefined ? resolved : { ...resolved, seed };
    this.guidanceFor(this.defaults);
  }

  /** The model's [c, h, w]. */
  get imageShape(): [number, number, number] {
    return this.models.denoiser.imageShape;
  }

  /** Validates inputs into one batch without running anything (for callers that want to fail early). */
  prepare(input: PurifyInput | PurifyInput[], names?: string[]): ImageBatch {
    return toImageBatch(input, this.imageShape, this.settings, names);
  }

  async purify(input: PurifyInput | PurifyInput[] | ImageBatch, call: PurifyCall = {}): Promise<PurifyResult> {
    const batch = this.batchOf(input);
    const { onStep, signal, ...overrides } = call;
    const options = resolvePurifyOptions({ ...this.defaults, ...overrides });
    const guide = this.guidanceFor(options);
    const [n, c, h, w] = batch.shape;
    const per = c * h * w;
    const images = new Float32Array(n * per);
    const stepsPerBatch = options.steps ?? options.tStar;
    const total = stepsPerBatch * Math.ceil(n / this.batch);
    for (let start = 0, done = 0; start < n; start += this.batch, done += stepsPerBatch) {
      const count = Math.min(this.batch, n - start);
      const pixels = await this.engine.scopeAsync(async () => {
        const x = fromArray(this.engine, batch.data.subarray(start * per, (start + count) * per), [count, c, h, w], 'inputs');
        const firstIndex = (options.firstIndex ?? 0) + start;
        return (await purify(this.models.denoiser, x, { ...options, firstIndex, signal, onStep: (d) => onStep?.(done + d, total) }, guide)).read();
      });
      images.set(pixels, start * per);
    }
    const labels = this.models.classifier ? await this.classify({ data: images, shape: batch.shape }) : null;
    return { images, shape: batch.shape, labels, options };
  }

  /** The classifier's labels for the inputs as they are. */
  async classify(input: PurifyInput | PurifyInput[] | ImageBatch): Promise<number[]> {
    const classifier = this.models.classifier;
    if (!classifier) throw new Error('this purifier has no classifier: create it with one to get labels');
    const batch = this.batchOf(input);
    const logits = await this.engine.scopeAsync(() => classifier.logits(fromArray(this.engine, batch.data, batch.shape, 'inputs')).read());
    return argmaxRows(logits, classifier.classes);
  }

  /** Image `index` of a result as PNG bytes. */
  png(result: PurifyResult, index = 0): Uint8Array {
    const [n, c, h, w] = result.shape;
    if (!Number.isInteger(index) || index < 0 || index >= n) throw new RangeError(`image ${index} is not in a result of ${n}`);
    return encodePlanarPng(result.images.subarray(index * c * h * w, (index + 1) * c * h * w), c as 1 | 3, h, w);
  }

  /** Frees the GPU device; the purifier cannot be used afterwards. */
  close(): void {
    this.engine.destroy();
  }

  /** A ready batch is checked like any other input: right shape, every value in [0, 1]. */
  private batchOf(input: PurifyInput | PurifyInput[] | ImageBatch): ImageBatch {
    if (!isBatch(input)) return this.prepare(input);
    const [, ...chw] = input.shape;
    if (chw.join('×') !== this.imageShape.join('×')) throw new InvalidImageError(`batch of ${chw.join('×')} images, but the model takes ${this.imageShape.join('×')}`);
    return this.prepare(input.data);
  }

  private guidanceFor(options: { method: string }): Classifier | undefined {
    if (options.method !== 'agdm') return undefined;
    if (!this.models.guidance) throw new Error('agdm needs the guidance network c_φ: create the purifier with one, or choose diffpure or gdmp');
    return this.models.guidance;
  }
}

function isBatch(input: unknown): input is ImageBatch {
  return typeof input === 'object' && input !== null && 'shape' in input && 'data' in input && (input as ImageBatch).data instanceof Float32Array;
}
