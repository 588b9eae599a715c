// PurifierApi served over Comlink from a Node worker_thread (started by spawn.ts).
import { expose } from 'comlink';
import { parentPort } from 'node:worker_threads';
import { loadClassifier, loadDenoiser } from '../engine/models/catalog.ts';
import { nodeEndpoint } from './comlink-node.ts';
import { PurifierService } from './service.ts';

if (!parentPort) throw new Error('node.worker.ts runs inside a worker_thread; use spawnPurifierWorker()');
expose(new PurifierService({ denoiser: loadDenoiser, classifier: loadClassifier }), nodeEndpoint(parentPort));
