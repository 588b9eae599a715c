// One thread of the Node pool (pool.ts): a PurifierService on the adapter named in workerData,
// initialised when the thread starts and kept for every task after. Tasks carry their images (moved,
// not copied), a MessagePort for per-step progress and a shared cancel flag read between steps. Any
// error becomes a 'failed' reply, so a rejected task means the thread died (Piscina starts a fresh
// one) and the pool retries the task. A lost device is replaced in place, without ending the thread:
// dawn.node aborts the whole process if a thread exits while a GPU promise is pending, and a device
// being lost leaves some pending for a moment. The task then replies 'lost' and is retried.
import { Piscina } from 'piscina';
import { threadId, workerData } from 'node:worker_threads';
import { loadClassifier, loadDenoiser } from '../engine/models/catalog.ts';
import { DeviceLostError } from '../engine/runtime.ts';
import type { StepProgress } from './api.ts';
import { FAULT, INJECTED_CRASH_EXIT_CODE, type PoolReply, type PoolTask, type PoolWorkerData, type PoolWorkerStats } from './pool-protocol.ts';
import { PurifierService } from './service.ts';

const { config, control } = workerData as PoolWorkerData;
const service = new PurifierService({ denoiser: loadDenoiser, classifier: loadClassifier });
let initFailure = start();
let jobs = 0;

function start(): Promise<Error | null> {
  return service.init(config).then(
    () => null,
    (err: Error) => err,
  );
}

export default async function runTask(task: PoolTask): Promise<PoolReply> {
  // Lost while idle: the next task pays for the new device.
  if (service.deviceLost) initFailure = start();
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
    if (service.deviceLost || err instanceof DeviceLostError) {
      initFailure = start();
      return { status: 'lost', message: (err as Error).message };
    }
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
  if (kind === FAULT.exit) process.exit(INJECTED_CRASH_EXIT_CODE);
  // Destroying the device from inside looks to the engine like a driver reset.
  if (kind === FAULT.loseDevice) service.engine.device.destroy();
}
