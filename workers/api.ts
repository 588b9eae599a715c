// The one interface a GPU worker serves, in a browser Web Worker and a Node worker_thread alike
// (over Comlink), and behind the Node pool's tasks. Everything here is plain data, so it can cross
// threads; image buffers are transferred, not copied.
import type { EngineStats } from '../engine/runtime.ts';
import type { PgdOptions } from '../engine/attacks/pgd.ts';
import type { PurifySettings } from '../engine/purify/defaults.ts';

/** A model by name; with `bytes` it is built from them, otherwise the worker looks the name up (Node only). */
export interface ModelSource {
  name: string;
  bytes?: Uint8Array;
}

export interface PurifierConfig {
  /** Substring of the adapter name (Node); browsers take what navigator.gpu offers. */
  adapter?: string;
  denoiser: ModelSource;
  /** The classifier under attack, for classify() and attack(). */
  classifier?: ModelSource;
  /** c_φ, which agdm needs. */
  guidance?: ModelSource;
  /** Purify one image for two steps during init, so the first real request doesn't pay for compiling kernels (default true). */
  warmUp?: boolean;
}

export type Shape4 = [n: number, c: number, h: number, w: number];

/** N×C×H×W images in [0, 1]. */
export interface ImageBatch {
  data: Float32Array;
  shape: Shape4;
}

/** Anything left out is filled from engine/purify/defaults.ts, as in the library and the CLI; without a seed, a fresh one. */
export type PurifyRequest = PurifySettings;

/** Purified images and the noise seed they were purified with (the request's, or the one drawn for it). */
export interface PurifiedBatch extends ImageBatch {
  seed: number;
}
export type AttackRequest = Omit<PgdOptions, 'onStep' | 'signal'>;

export interface StepProgress {
  step: number;
  steps: number;
}

export type ProgressCallback = (progress: StepProgress) => void;

export interface WorkerInfo {
  adapter: string;
  software: boolean;
  models: string[];
  initMs: number;
}

export interface WorkerStats {
  adapter: string;
  /** Requests finished (done, cancelled or failed). */
  tasks: number;
  /** Reverse diffusion and PGD steps run, summed over all requests. */
  steps: number;
  engine: EngineStats;
}

/** Requests run one at a time in the order they arrive; `jobId` names one for cancel(). */
export interface PurifierApi {
  init(config: PurifierConfig): Promise<WorkerInfo>;
  purify(batch: ImageBatch, options: PurifyRequest, onProgress?: ProgressCallback, jobId?: string): Promise<PurifiedBatch>;
  /** Predicted labels from the classifier under attack. */
  classify(batch: ImageBatch): Promise<number[]>;
  /** PGD on the classifier under attack, ascending the cross-entropy of `labels`. */
  attack(batch: ImageBatch, labels: number[], options: AttackRequest, onProgress?: ProgressCallback, jobId?: string): Promise<ImageBatch>;
  /** Stops a queued job before it starts, a running one between two steps; it rejects with an AbortError. */
  cancel(jobId: string): void;
  stats(): WorkerStats;
  /** Frees the device; the worker needs init() again. */
  dispose(): void;
}
