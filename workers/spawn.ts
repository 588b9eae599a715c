// Starts a worker_thread serving PurifierApi over Comlink: the Node twin of a browser's
// `wrap(new Worker(url))`. Worker threads run TypeScript entries through tsx-worker.mjs.
import { releaseProxy, wrap, type Remote } from 'comlink';
import { Worker } from 'node:worker_threads';
import type { PurifierApi } from './api.ts';
import { nodeEndpoint } from './comlink-node.ts';

export const TSX_WORKER = new URL('./tsx-worker.mjs', import.meta.url);

/** A TypeScript module of this folder, as tsx-worker.mjs expects it in workerData.tsEntry. */
export const workerEntry = (file: string): string => new URL(file, import.meta.url).href;

export interface SpawnedPurifier {
  api: Remote<PurifierApi>;
  worker: Worker;
  /** Frees the device, then ends the thread. */
  close(): Promise<void>;
}

export function spawnPurifierWorker(): SpawnedPurifier {
  const worker = new Worker(TSX_WORKER, { workerData: { tsEntry: workerEntry('./node.worker.ts') } });
  // Comlink has no notion of a dead peer; at least say why calls stopped answering.
  worker.on('error', (err: Error) => console.error(`[purify-gpu worker] ${err.message}`));
  const api = wrap<PurifierApi>(nodeEndpoint(worker));
  return {
    api,
    worker,
    async close() {
      await api.dispose();
      api[releaseProxy]();
      await worker.terminate();
    },
  };
}
