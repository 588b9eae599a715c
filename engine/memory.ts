// Storage buffer pool keyed by rounded size. Buffers released while commands that use them are
// still being encoded wait in a pending list until the next submit, because a later
// queue.writeBuffer into a reused buffer would otherwise land before those commands run.

export interface MemoryStats {
  liveBytes: number;
  pooledBytes: number;
  pendingBytes: number;
  peakBytes: number;
  liveBuffers: number;
  allocations: number;
}

/** Rounds up to a size class: multiples of 256 B below 64 KiB, then 1/8 steps of the next power of two. */
export function sizeClass(bytes: number): number {
  const min = Math.max(bytes, 16);
  if (min <= 65536) return Math.ceil(min / 256) * 256;
  const pow = 2 ** Math.floor(Math.log2(min));
  const step = pow / 8;
  return Math.ceil(min / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private live = new Set<GPUBuffer>();
  private stats: MemoryStats = { liveBytes: 0, pooledBytes: 0, pendingBytes: 0, peakBytes: 0, liveBuffers: 0, allocations: 0 };

  constructor(private device: GPUDevice, private maxBufferSize: number) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.maxBufferSize) {
      throw new RangeError(`${label}: ${bytes} bytes exceed this device's maxBufferSize (${this.maxBufferSize})`);
    }
    const bucket = this.free.get(size);
    let buffer = bucket?.pop();
    if (buffer) {
      this.stats.pooledBytes -= size;
      buffer.label = label;
    } else {
      buffer = this.device.createBuffer({
        label,
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.stats.allocations++;
    }
    this.live.add(buffer);
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes + this.stats.pooledBytes + this.stats.pendingBytes);
    return buffer;
  }

  /** Returns a buffer to the pool once the commands encoded so far have been submitted. */
  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error(`double release of buffer "${buffer.label}"`);
    this.stats.liveBytes -= buffer.size;
    this.stats.liveBuffers--;
    this.stats.pendingBytes += buffer.size;
    this.pending.push(buffer);
  }

  /** Called right after queue.submit(): pending buffers become reusable. */
  afterSubmit(): void {
    for (const buffer of this.pending) {
      const list = this.free.get(buffer.size) ?? [];
      list.push(buffer);
      this.free.set(buffer.size, list);
      this.stats.pooledBytes += buffer.size;
      this.stats.pendingBytes -= buffer.size;
    }
    this.pending.length = 0;
  }

  /** Destroys pooled (not live) buffers, e.g. after a large one-off computation. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
  }

  snapshot(): MemoryStats {
    return { ...this.stats };
  }
}
