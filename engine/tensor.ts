// A float32 tensor: a contiguous, row-major (NCHW for images) view of a pooled GPU storage buffer.
// reshape() makes another view of the same storage; the buffer returns to the pool when the last
// view is disposed. Each storage counts the dispatches that wrote it, so that a buffer derived from
// it (a conv weight packed for the kernels) is remade only after the tensor changed, not per call.
import type { Engine } from './runtime.ts';

let nextId = 1;

interface Derived {
  buffer: GPUBuffer;
  /** The storage's write count when the buffer was last made. */
  madeAt: number;
}

interface Storage {
  buffer: GPUBuffer;
  views: number;
  /** Writes encoded into the buffer after its creation (dispatches binding it read_write, uploads). */
  writes: number;
  derived: Map<string, Derived> | null;
}

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  private storage: Storage | null;
  /** True when gradients flow into this tensor (see autograd.ts). */
  requiresGrad = false;

  constructor(readonly engine: Engine, readonly shape: readonly number[], label: string, shareWith?: Tensor) {
    for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new RangeError(`${label}: invalid shape [${shape}]`);
    this.size = shape.reduce((a, b) => a * b, 1);
    if (shareWith) {
      this.storage = shareWith.liveStorage();
      this.storage.views++;
    } else {
      this.storage = { buffer: engine.pool.acquire(this.size * 4, label), views: 1, writes: 0, derived: null };
    }
    engine.track(this);
  }

  private liveStorage(): Storage {
    if (!this.storage) throw new Error(`tensor #${this.id} [${this.shape}] used after dispose()`);
    return this.storage;
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  get rank(): number {
    return this.shape.length;
  }

  gpuBuffer(): GPUBuffer {
    return this.liveStorage().buffer;
  }

  /** Records a write into the storage (the runtime calls it for every dispatch that binds it read_write). */
  markWritten(): void {
    this.liveStorage().writes++;
  }

  /**
   * A pooled buffer of `bytes` derived from this tensor's contents, cached on its storage under
   * `key` (shared by all views) and remade by `make` only when the storage was written since: a
   * model's weights pack once, a weight an optimizer updates repacks after each update. The buffer
   * belongs to the storage, returns to the pool with it, and must not be written by anyone else.
   */
  derivedBuffer(key: string, bytes: number, make: (buffer: GPUBuffer) => void): GPUBuffer {
    const storage = this.liveStorage();
    storage.derived ??= new Map();
    let d = storage.derived.get(key);
    if (d && d.madeAt === storage.writes) return d.buffer;
    if (!d) {
      d = { buffer: this.engine.pool.acquire(bytes, `derived ${key}`), madeAt: -1 };
      storage.derived.set(key, d);
    }
    make(d.buffer);
    d.madeAt = storage.writes;
    return d.buffer;
  }

  /** A view with another shape of the same number of elements (no copy, no gradient bookkeeping). */
  view(shape: readonly number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.size) throw new RangeError(`cannot view [${this.shape}] as [${shape}]`);
    return new Tensor(this.engine, shape, 'view', this);
  }

  dispose(): void {
    if (!this.storage) return;
    if (--this.storage.views === 0) {
      this.engine.pool.release(this.storage.buffer);
      for (const d of this.storage.derived?.values() ?? []) this.engine.pool.release(d.buffer);
    }
    this.storage = null;
    this.engine.untrack(this);
  }

  async read(): Promise<Float32Array> {
    return new Float32Array(await this.engine.readBuffer(this.gpuBuffer(), this.size * 4));
  }

  /** Reads a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`item() on a tensor of shape [${this.shape}]`);
    return (await this.read())[0];
  }

  toString(): string {
    return `Tensor#${this.id}[${this.shape.join('×')}]`;
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertRank(op: string, t: Tensor, rank: number): void {
  if (t.rank !== rank) throw new RangeError(`${op}: expected a rank-${rank} tensor, got [${t.shape}]`);
}
