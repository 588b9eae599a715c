// A pool of GPU worker threads for batch purification: one Piscina pool per adapter, a fixed number
// of threads each (every thread owns its device, weights and pipelines for its whole life), idle
// threads kept alive with their event loops running (atomics 'disabled': GPU callbacks need it).
// purify() splits a batch into contiguous chunks, one per thread, each with its global firstIndex so
// the noise — and so the result — equals a single-device run; results come back in input order.
// A chunk whose thread dies or whose device is lost is retried on a fresh thread or device.
// Cancelling stops queued chunks before they start and running ones between two reverse steps.
import { Piscina } from 'piscina';
import { MessageChannel } from 'node:worker_threads';
import type { PurifiedBatch, PurifyRequest, Shape4, StepProgress } from './api.ts';
import { FAULT, INJECTED_CRASH_EXIT_CODE, type PoolReply, type PoolTask, type PoolWorkerData, type PoolWorkerStats } from './pool-protocol.ts';
import { workerModule } from './ts-worker.ts';
import { randomSeed } from '../engine/purify/random-seed.ts';

type TransferList = NonNullable<Parameters<Piscina['run']>[1]>['transferList'];

export interface PoolOptions {
  /** Adapter name substrings, one set of threads each (default: the engine's preferred adapter). */
  adapters?: string[];
  workersPerAdapter?: number;
  denoiser?: string;
  /** c_φ, needed for method 'agdm'. */
  guidance?: string;
  /** Chunks allowed to wait for a busy thread; beyond it purify() throws PoolQueueFullError. */
  maxQueue?: number;
  /** Tries per chunk when its thread dies. */
  maxAttempts?: number;
  /** Each thread runs a tiny purification at start so real requests don't pay for compiling. */
  warmUp?: boolean;
}

export interface ChunkProgress {
  index: number;
  firstIndex: number;
  count: number;
  attempt: number;
  step: number;
  steps: number;
}

export interface PoolProgress {
  /** Reverse steps finished over all chunks; a retried chunk counts again from 0. */
  done: number;
  total: number;
  chunk: ChunkProgress;
}

export interface PoolRunOptions {
  onProgress?: (progress: PoolProgress) => void;
  signal?: AbortSignal;
}

export interface PurifierPool {
  readonly threads: number;
  /** Resolves once every thread has its device, weights and warm pipelines. */
  ready(): Promise<PoolWorkerStats[]>;
  /**
   * Without options.seed the chunks share a fresh random seed; pass one to replay the noise. The
   * result carries the seed used either way, so any call can be recorded and replayed.
   */
  purify(images: Float32Array, shape: Shape4, options: PurifyRequest, run?: PoolRunOptions): Promise<PurifiedBatch>;
  /** The latest statistics each live thread reported (with every finished task). */
  workerStats(): PoolWorkerStats[];
  /** Testing hook: the first thread to finish reverse step `atStep` crashes or loses its device. */
  injectFault(kind: 'exit' | 'lose-device', atStep: number): void;
  /** Resolves when no chunk is queued or running (cancelled ones included). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export class PoolQueueFullError extends Error {
  override name = 'PoolQueueFullError';
}

export class PoolTaskError extends Error {
  override name = 'PoolTaskError';
}

export const POOL_DEFAULTS = { workersPerAdapter: 1, denoiser: 'franfee-mnist', maxQueue: 64, maxAttempts: 3 } as const;

export function createPool(options: PoolOptions = {}): PurifierPool {
  return new Pool(options);
}

interface Chunk {
  index: number;
  start: number;
  count: number;
}

/** n images in `parts` contiguous chunks whose sizes differ by at most one. */
function splitBatch(n: number, parts: number): Chunk[] {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  const chunks: Chunk[] = [];
  for (let i = 0, start = 0; i < parts; i++) {
    const count = base + (i < extra ? 1 : 0);
    chunks.push({ index: i, start, count });
    start += count;
  }
  return chunks;
}

const imageRange = (first: number, count: number) => (count === 1 ? `image ${first}` : `images ${first}–${first + count - 1}`);

function describeFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.endsWith(`exited with code: ${INJECTED_CRASH_EXIT_CODE}`) ? `${message} (injected crash)` : message;
}

const abortError = (signal?: AbortSignal) => signal?.reason ?? new DOMException('purification cancelled', 'AbortError');

class Pool implements PurifierPool {
  private pools: Piscina[];
  private control = new Int32Array(new SharedArrayBuffer(8));
  private outstanding = 0;
  /** Cancel flags of requests not yet settled, so close() can stop them. */
  private active = new Set<Int32Array>();
  private idleWaiters: (() => void)[] = [];
  private latest = new Map<number, PoolWorkerStats>();
  private rotation = 0;
  private readonly perAdapter: number;
  private readonly maxQueue: number;
  private readonly maxAttempts: number;

  constructor(options: PoolOptions) {
    this.perAdapter = options.workersPerAdapter ?? POOL_DEFAULTS.workersPerAdapter;
    this.maxQueue = options.maxQueue ?? POOL_DEFAULTS.maxQueue;
    this.maxAttempts = options.maxAttempts ?? POOL_DEFAULTS.maxAttempts;
    if (!Number.isInteger(this.perAdapter) || this.perAdapter < 1) throw new RangeError(`workersPerAdapter must be a positive integer, got ${this.perAdapter}`);
    const adapters = options.adapters?.length ? options.adapters : [undefined];
    const entry = workerModule('pool-task');
    this.pools = adapters.map((adapter) => {
      const workerData: PoolWorkerData = {
        tsEntry: entry.tsEntry,
        config: {
          adapter,
          denoiser: { name: options.denoiser ?? POOL_DEFAULTS.denoiser },
          guidance: options.guidance === undefined ? undefined : { name: options.guidance },
          warmUp: options.warmUp,
        },
        control: this.control,
      };
      const pool = new Piscina({
        filename: entry.url.href,
        workerData,
        minThreads: this.perAdapter,
        maxThreads: this.perAdapter,
        // Never retire an idle thread: a new one would re-create its device and recompile.
        idleTimeout: Infinity,
        atomics: 'disabled',
      });
      pool.on('error', (err: Error) => console.error(`[purify-gpu pool] ${adapter ?? 'default adapter'}: ${err.message}`));
      return pool;
    });
  }

  get threads(): number {
    return this.pools.length * this.perAdapter;
  }

  async ready(): Promise<PoolWorkerStats[]> {
    // Threads take one task at a time, so as many concurrent tasks as threads reach every thread.
    const replies = await Promise.all(this.pools.flatMap((pool) => Array.from({ length: this.perAdapter }, () => pool.run({ kind: 'ready' } satisfies PoolTask) as Promise<PoolReply>)));
    for (const reply of replies) {
      if (reply.status === 'failed' || reply.status === 'lost') throw new PoolTaskError(`a pool thread failed to start: ${reply.message}`);
      this.latest.set(reply.stats.threadId, reply.stats);
    }
    return this.workerStats();
  }

  async purify(images: Float32Array, shape: Shape4, options: PurifyRequest, run: PoolRunOptions = {}): Promise<PurifiedBatch> {
    const [n, c, h, w] = shape;
    const per = c * h * w;
    if (images.length !== n * per) throw new RangeError(`purify: ${images.length} values for images [${shape}]`);
    run.signal?.throwIfAborted();
    const chunks = splitBatch(n, Math.min(n, this.threads));
    this.admit(chunks.length);
    const cancels = chunks.map(() => new Int32Array(new SharedArrayBuffer(4)));
    const cancelAll = () => cancels.forEach((flag) => Atomics.store(flag, 0, 1));
    cancels.forEach((flag) => this.active.add(flag));
    const steps = new Array<number>(chunks.length).fill(0);
    const base = options.firstIndex ?? 0;
    // One seed for every chunk, drawn here when the caller gave none: chunks must share the noise
    // stream of a single-device run, not draw one each.
    const seeded = { ...options, seed: options.seed ?? randomSeed() };
    const offset = this.rotation++;
    const out = new Float32Array(images.length);
    const work = Promise.all(
      chunks.map(async (chunk) => {
        const onStep = (attempt: number, p: StepProgress) => {
          if (run.signal?.aborted) return;
          steps[chunk.index] = p.step;
          const done = steps.reduce((a, b) => a + b, 0);
          run.onProgress?.({ done, total: p.steps * chunks.length, chunk: { index: chunk.index, firstIndex: base + chunk.start, count: chunk.count, attempt, step: p.step, steps: p.steps } });
        };
        const data = images.subarray(chunk.start * per, (chunk.start + chunk.count) * per);
        const request = { ...seeded, firstIndex: base + chunk.start };
        const result = await this.runChunk(chunk, data, [chunk.count, c, h, w], request, cancels[chunk.index], offset, onStep);
        out.set(result, chunk.start * per);
      }),
    );
    // One failed chunk (or a cancellation) stops the others between steps.
    work.catch(cancelAll).finally(() => cancels.forEach((flag) => this.active.delete(flag)));
    const result: PurifiedBatch = { data: out, shape, seed: seeded.seed };
    if (!run.signal) return work.then(() => result);
    const signal = run.signal;
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        cancelAll();
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([work, aborted]);
      return result;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  workerStats(): PoolWorkerStats[] {
    const live = new Set(this.pools.flatMap((pool) => pool.threads.map((t) => t.threadId)));
    return [...this.latest.values()].filter((s) => live.has(s.threadId)).sort((a, b) => a.threadId - b.threadId);
  }

  injectFault(kind: 'exit' | 'lose-device', atStep: number): void {
    Atomics.store(this.control, FAULT.slots.step, atStep);
    Atomics.store(this.control, FAULT.slots.kind, kind === 'exit' ? FAULT.exit : FAULT.loseDevice);
  }

  idle(): Promise<void> {
    return this.outstanding === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Cancels what is still running and ends the threads once they are idle and done re-creating
   * lost devices: dawn.node aborts the process if a thread ends while a GPU promise is pending.
   */
  async close(): Promise<void> {
    for (const flag of this.active) Atomics.store(flag, 0, 1);
    await this.idle();
    await this.ready().catch(() => undefined);
    await Promise.all(this.pools.map((pool) => pool.destroy()));
  }

  // ---------------------------------------------------------------- internals

  /** Admits a request's chunks or refuses the whole request, so none of it runs. */
  private admit(chunks: number): void {
    const waiting = Math.max(0, this.outstanding + chunks - this.threads);
    if (waiting > this.maxQueue) {
      throw new PoolQueueFullError(`the purification pool is full: ${this.outstanding} chunks in flight on ${this.threads} threads and maxQueue ${this.maxQueue}; wait for results or raise maxQueue`);
    }
    this.outstanding += chunks;
  }

  private settle(): void {
    if (--this.outstanding > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Runs one chunk, retrying it while threads die or devices are lost under it. */
  private async runChunk(
    chunk: Chunk,
    images: Float32Array,
    shape: Shape4,
    options: PurifyRequest,
    cancel: Int32Array,
    offset: number,
    onStep: (attempt: number, p: StepProgress) => void,
  ): Promise<Float32Array> {
    const failures: string[] = [];
    try {
      for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
        const pool = this.poolFor(chunk.index + offset + attempt);
        const { port1, port2 } = new MessageChannel();
        port1.on('message', (p: StepProgress) => onStep(attempt, p));
        const task: PoolTask = { kind: 'purify', images: images.slice(), shape, options, cancel, progress: port2 };
        let reply: PoolReply;
        try {
          reply = await pool.run(task, { transferList: [task.images.buffer, port2] as TransferList });
        } catch (err) {
          failures.push(describeFailure(err));
          continue;
        } finally {
          port1.close();
        }
        if (reply.status === 'lost') {
          failures.push(`device lost: ${reply.message}`);
          continue;
        }
        if (reply.status === 'failed') throw new PoolTaskError(`${imageRange(options.firstIndex!, chunk.count)}: ${reply.name}: ${reply.message}`);
        this.latest.set(reply.stats.threadId, reply.stats);
        if (reply.status === 'cancelled') throw abortError();
        return reply.images!;
      }
    } finally {
      this.settle();
    }
    throw new PoolTaskError(`${imageRange(options.firstIndex!, chunk.count)} failed after ${this.maxAttempts} attempt${this.maxAttempts === 1 ? '' : 's'}: ${failures.join('; ')}`);
  }

  /** Round-robin over adapters that still have threads (Piscina stops replacing threads that die while starting). */
  private poolFor(turn: number): Piscina {
    for (let i = 0; i < this.pools.length; i++) {
      const pool = this.pools[(turn + i) % this.pools.length];
      if (pool.threads.length > 0) return pool;
    }
    throw new PoolTaskError('every pool thread has died and none could be restarted');
  }
}

// ---------------------------------------------------------------- command line

/** Flags for `purify run --workers N [--adapters A,B]`: N threads on each adapter. */
export const poolFlags = {
  workers: { type: 'string' },
  adapters: { type: 'string' },
} as const;

/** Pool options from those flags (an --adapter flag counts as one adapter), or null without --workers. */
export function poolOptionsFromFlags(flags: { workers?: string; adapters?: string; adapter?: string }, models: Pick<PoolOptions, 'denoiser' | 'guidance'>): PoolOptions | null {
  if (flags.workers === undefined) return null;
  const workers = Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got "${flags.workers}"`);
  const adapters = flags.adapters?.split(',').map((a) => a.trim()).filter(Boolean) ?? (flags.adapter ? [flags.adapter] : undefined);
  return { ...models, adapters, workersPerAdapter: workers };
}

/** Purifies on a pool started for this call: waits until its threads are warm, runs, always closes it. */
export async function purifyOnPool(options: PoolOptions, images: Float32Array, shape: Shape4, request: PurifyRequest, run?: PoolRunOptions): Promise<PurifiedBatch> {
  const pool = createPool(options);
  try {
    await pool.ready();
    return await pool.purify(images, shape, request, run);
  } finally {
    await pool.close();
  }
}
