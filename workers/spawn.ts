// Starts a worker_thread serving PurifierApi over Comlink: the Node twin of a browser's
// `wrap(new Worker(url))`.
import { releaseProxy, wrap, type Remote } from 'comlink';
import { Worker } from 'node:worker_threads';
import type { PurifierApi } from './api.ts';
import { nodeEndpoint } from './comlink-node.ts';
import { workerModule } from './ts-worker.ts';

export interface SpawnedPurifier {
  api: Remote<PurifierApi>;
  worker: Worker;
  /** Frees the device, then ends the thread. */
  close(): Promise<void>;
}

export function spawnPurifierWorker(): SpawnedPurifier {
  const entry = workerModule('node.worker');
  const worker = new Worker(entry.url, { workerData: { tsEntry: entry.tsEntry } });
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
