// What the pool (pool.ts) and its threads (pool-task.ts) send each other.
import type { MessagePort } from 'node:worker_threads';
import type { PurifierConfig, PurifyRequest, Shape4, WorkerStats } from './api.ts';

export interface PoolWorkerData {
  tsEntry?: string;
  config: PurifierConfig;
  /** Shared by every thread: [fault kind, step], see FAULT. */
  control: Int32Array;
}

export type PoolTask =
  | { kind: 'ready' }
  | { kind: 'purify'; images: Float32Array; shape: Shape4; options: PurifyRequest; cancel: Int32Array; progress: MessagePort };

export interface PoolWorkerStats extends WorkerStats {
  threadId: number;
}

export type PoolReply =
  | { status: 'done'; images?: Float32Array; stats: PoolWorkerStats }
  | { status: 'cancelled'; stats: PoolWorkerStats }
  | { status: 'failed'; name: string; message: string }
  /** The device was lost during the task; the thread is creating a new one. Retried. */
  | { status: 'lost'; message: string };

/** Faults a test can plant: the first thread to reach the step claims it. */
export const FAULT = { none: 0, exit: 1, loseDevice: 2, slots: { kind: 0, step: 1 } } as const;
export const INJECTED_CRASH_EXIT_CODE = 70;
