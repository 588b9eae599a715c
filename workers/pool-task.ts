// One thread of the Node pool (pool.ts): a PurifierService on the adapter named in workerData,
// initialised when the thread starts and kept for every task after. Tasks carry their images (moved,
// not copied), a MessagePort for per-step progress and a shared cancel flag read between steps. Any
// error becomes a 'failed' reply, so a rejected task always means the thread died (crash or device
// loss: the thread exits and Piscina starts a fresh one) and the pool may retry it elsewhere.
import { Piscina } from 'piscina';
import { threadId, workerData } from 'node:worker_threads';
import { loadClassifier, loadDenoiser } from '../engine/models/catalog.ts';
import { DeviceLostError } from '../engine/runtime.ts';
import type { StepProgress } from './api.ts';
import { EXIT_CODES, FAULT, type PoolReply, type PoolTask, type PoolWorkerData, type PoolWorkerStats } from './pool-protocol.ts';
import { PurifierService } from './service.ts';

const { config, control } = workerData as PoolWorkerData;
const service = new PurifierService({ denoiser: loadDenoiser, classifier: loadClassifier });
// A lost device takes the thread with it: Piscina replaces it and the pool retries its task.
service.onDeviceLost = () => process.exit(EXIT_CODES.deviceLost);
const initFailure = service.init(config).then(
  () => null,
  (err: Error) => err,
);
let jobs = 0;

export default async function runTask(task: PoolTask): Promise<PoolReply> {
  const error = await initFailure;
  if (error) return failed(error);
  if (task.kind === 'ready') return { status: 'done', stats: stats() };
  const jobId = String(++jobs);
  const cancelled = () => Atomics.load(task.cancel, 0) !== 0;
  try {
    if (cancelled()) return { status: 'cancelled', stats: stats() };
    const onProgress = (p: StepProgress) => {
      task.progress.postMessage(p);
      injectFault(p.step);
      if (cancelled()) service.cancel(jobId);
    };
    const result = await service.purify({ data: task.images, shape: task.shape }, task.options, onProgress, jobId);
    const reply: PoolReply = { status: 'done', images: result.data, stats: stats() };
    return Piscina.move({ [Piscina.transferableSymbol]: [result.data.buffer], [Piscina.valueSymbol]: reply } as never) as unknown as PoolReply;
  } catch (err) {
    if (service.deviceLost || err instanceof DeviceLostError) process.exit(EXIT_CODES.deviceLost);
    if (cancelled()) return { status: 'cancelled', stats: stats() };
    return failed(err as Error);
  } finally {
    task.progress.close();
  }
}

function stats(): PoolWorkerStats {
  return { ...service.stats(), threadId };
}

function failed(err: Error): PoolReply {
  return { status: 'failed', name: err.name, message: err.message };
}

function injectFault(step: number): void {
  if (Atomics.load(control, FAULT.slots.step) !== step) return;
  const kind = Atomics.exchange(control, FAULT.slots.kind, FAULT.none);
  if (kind === FAULT.exit) process.exit(EXIT_CODES.injectedCrash);
  // Destroying the device from inside looks to the engine like a driver reset.
  if (kind === FAULT.loseDevice) service.engine.device.destroy();
}
