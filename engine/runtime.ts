// The execution context: pipelines (compiled asynchronously, cached by structure), one open command
// encoder and compute pass that many dispatches share, a per-batch uniform arena, buffer pool,
// tensor scopes and the autograd tape.
import { acquireDevice, describeContext, type DeviceOptions, type GpuContext } from './device.ts';
import { BufferPool, type MemoryStats } from './memory.ts';
import { shaderSource, preprocess, type Defines } from './shader-source.ts';
import { Tensor } from './tensor.ts';
import type { Tape } from './autograd.ts';
import { chooseTuning, type Tuning } from './ops/tuning.ts';
import { checkDispatch, parseKernelInterface, type KernelInterface, type ScalarType } from './kernel-interface.ts';

/** What identifies one compiled pipeline: the shader file, its entry point and the defines that change its code. */
export interface KernelSpec {
  /** Label of the op, used on every GPU object the kernel creates. */
  op: string;
  shader: string;
  entry?: string;
  defines?: Defines;
}

export const UNIFORM_ALIGN = 256;
const UNIFORM_ARENA_BYTES = 64 * 1024;
/** Dispatches per submit: enough to amortise a submit, few enough to keep the GPU busy early. */
const DISPATCHES_PER_SUBMIT = 64;
/** Passes whose duration timeGpu() can record. */
const TIMED_PASSES = 2048;

export function kernelKey(k: KernelSpec): string {
  const defs = Object.entries(k.defines ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) => `${n}=${v}`);
  return `${k.shader}:${k.entry ?? 'main'}[${defs.join(',')}]`;
}

/** Packs 32-bit uniform fields in declaration order (scalars only, so WGSL alignment is 4). */
export class Uniforms {
  private view = new DataView(new ArrayBuffer(UNIFORM_ALIGN));
  private offset = 0;
  /** The field types in packing order, checked against the kernel's WGSL struct (kernel-interface.ts). */
  readonly types: ScalarType[] = [];
  u32(...values: number[]): this {
    for (const v of values) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uniform u32 out of range: ${v}`);
      this.view.setUint32(this.offset, v, true);
      this.advance('u32');
    }
    return this;
  }
  i32(...values: number[]): this {
    for (const v of values) {
      this.view.setInt32(this.offset, v, true);
      this.advance('i32');
    }
    return this;
  }
  f32(...values: number[]): this {
    for (const v of values) {
      this.view.setFloat32(this.offset, v, true);
      this.advance('f32');
    }
    return this;
  }
  private advance(type: ScalarType): void {
    this.offset += 4;
    this.types.push(type);
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.view.buffer, 0, Math.max(16, Math.ceil(this.offset / 16) * 16));
  }
}

/** Part of a buffer bound on its own (a window of a weight too large for one uniform binding). */
export interface BufferWindow {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

const isWindow = (s: Tensor | GPUBuffer | BufferWindow): s is BufferWindow => !(s instanceof Tensor) && 'offset' in s;

export interface EngineOptions extends DeviceOptions {
  /** Kernel variants: a Tuning or the name of one (engine/ops/tuning.ts); default: chosen from the adapter. */
  tuning?: Tuning | string;
}

export interface EngineStats extends MemoryStats {
  pipelines: number;
  lateCompiles: number;
  dispatches: number;
  submits: number;
  liveTensors: number;
}

export class Engine {
  readonly pool: BufferPool;
  private pipelines = new Map<string, GPUComputePipeline>();
  private compiling = new Map<string, Promise<GPUComputePipeline>>();
  private interfaces = new Map<string, KernelInterface>();
  /** Pipeline keys with the binding count and uniform types their dispatches were checked with. */
  private checkedDispatches = new Set<string>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private uniformBuffer: GPUBuffer;
  private uniformArena = new Uint8Array(UNIFORM_ARENA_BYTES);
  private uniformUsed = 0;
  private pendingDispatches = 0;
  private counters = { lateCompiles: 0, dispatches: 0, submits: 0 };
  private timing: { querySet: GPUQuerySet; used: number; perDispatch: boolean; labels: string[] } | null = null;
  private scopes: Set<Tensor>[] = [];
  readonly liveTensors = new Set<Tensor>();
  /** Set while a gradient is being recorded (see autograd.ts). */
  tape: Tape | null = null;

  private constructor(readonly gpu: GpuContext, readonly tuning: Tuning) {
    this.pool = new BufferPool(gpu.device, Math.min(gpu.limits.maxBufferSize, 2 ** 31));
    this.uniformBuffer = gpu.device.createBuffer({ label: 'uniform arena', size: UNIFORM_ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  static async create(opts: EngineOptions = {}): Promise<Engine> {
    const gpu = await acquireDevice(opts);
    const adapter = {
      software: gpu.software,
      workgroupStorageBytes: gpu.limits.maxComputeWorkgroupStorageSize,
      subgroups: gpu.features.subgroups,
      compilerUnrolls: gpu.compilerUnrolls,
    };
    return new Engine(gpu, chooseTuning(adapter, opts.tuning));
  }

  get device(): GPUDevice {
    return this.gpu.device;
  }

  describe(): string {
    return describeContext(this.gpu);
  }

  // ---------------------------------------------------------------- pipelines

  private describePipeline(k: KernelSpec, key: string): GPUComputePipelineDescriptor {
    const code = preprocess(shaderSource(k.shader), k.defines ?? {}, k.shader);
    this.interfaces.set(key, parseKernelInterface(code, `${k.op} (${key})`));
    const module = this.device.createShaderModule({ label: `${k.op} (${key})`, code });
    return { label: k.op, layout: 'auto', compute: { module, entryPoint: k.entry ?? 'main' } };
  }

  private async buildPipeline(k: KernelSpec, key: string): Promise<GPUComputePipeline> {
    const desc = this.describePipeline(k, key);
    this.device.pushErrorScope('validation');
    const pipeline = await this.device.createComputePipelineAsync(desc).catch((e: Error) => {
      throw new Error(`compiling ${k.op} (${key}) failed: ${e.message}`);
    });
    const err = await this.device.popErrorScope();
    if (err) throw new Error(`compiling ${k.op} (${key}) failed: ${err.message}`);
    return pipeline;
  }

  /** Compiles kernels ahead of use, all in parallel. */
  async precompile(kernels: KernelSpec[], onProgress?: (done: number, total: number) => void): Promise<void> {
    let done = 0;
    await Promise.all(
      kernels.map(async (k) => {
        const key = kernelKey(k);
        if (!this.pipelines.has(key)) {
          let p = this.compiling.get(key);
          if (!p) {
            p = this.buildPipeline(k, key);
            this.compiling.set(key, p);
          }
          this.pipelines.set(key, await p);
          this.compiling.delete(key);
        }
        onProgress?.(++done, kernels.length);
      }),
    );
  }

  private pipelineFor(k: KernelSpec, key: string): GPUComputePipeline {
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    // Not precompiled: compile synchronously so the op still runs, and count it so tests and
    // benchmarks can insist that model loading precompiles everything.
    this.counters.lateCompiles++;
    this.device.pushErrorScope('validation');
    const pipeline = this.device.createComputePipeline(this.describePipeline(k, key));
    void this.device.popErrorScope().then((err) => err && console.error(`[purify-gpu] compiling ${k.op} (${key}) failed: ${err.message}`));
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  // ---------------------------------------------------------------- dispatch

  /** Checks a dispatch's buffers and uniform packing against the kernel's WGSL, once per distinct call shape. */
  private checkInterface(k: KernelSpec, key: string, storageCount: number, uniforms: Uniforms | null): KernelInterface {
    const iface = this.interfaces.get(key)!;
    const shape = `${key}|${storageCount}|${uniforms ? uniforms.types.join(',') : '-'}`;
    if (this.checkedDispatches.has(shape)) return iface;
    checkDispatch(iface, `${k.op} (${key})`, storageCount, uniforms ? uniforms.types : null);
    this.checkedDispatches.add(shape);
    return iface;
  }

  /**
   * Encodes one dispatch. `storage` buffers bind at 0..n-1 in order, the uniform block at n; a
   * BufferWindow binds part of a buffer. Kernels should have been precompiled; a late one compiles
   * synchronously and is counted.
   */
  dispatch(k: KernelSpec, storage: (Tensor | GPUBuffer | BufferWindow)[], uniforms: Uniforms | null, groups: [number, number?, number?]): void {
    if (this.gpu.isLost()) throw new DeviceLostError(this.gpu.adapterName);
    const key = kernelKey(k);
    const pipeline = this.pipelineFor(k, key);
    const iface = this.checkInterface(k, key, storage.length, uniforms);
    const maxGroups = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    const [gx, gy = 1, gz = 1] = groups;
    if (gx > maxGroups || gy > maxGroups || gz > maxGroups) {
      throw new RangeError(`${k.op}: dispatch ${gx}×${gy}×${gz} exceeds maxComputeWorkgroupsPerDimension ${maxGroups}`);
    }
    if (gx === 0 || gy === 0 || gz === 0) return;
    const entries: GPUBindGroupEntry[] = storage.map((s, i) => {
      if (isWindow(s)) return { binding: i, resource: s };
      let buffer = s as GPUBuffer;
      if (s instanceof Tensor) {
        // Buffers derived from a tensor (packed weights) are remade after any write to it.
        if (iface.bindings.get(i)!.kind === 'read_write') s.markWritten();
        buffer = s.gpuBuffer();
      }
      if (buffer.size > this.gpu.limits.maxStorageBufferBindingSize) {
        throw new RangeError(`${k.op}: binding ${i} is ${buffer.size} bytes, over maxStorageBufferBindingSize ${this.gpu.limits.maxStorageBufferBindingSize}; split the batch`);
      }
      return { binding: i, resource: { buffer } };
    });
    if (uniforms) {
      const bytes = uniforms.bytes();
      if (this.uniformUsed + UNIFORM_ALIGN > UNIFORM_ARENA_BYTES) this.flush();
      this.uniformArena.set(bytes, this.uniformUsed);
      entries.push({ binding: storage.length, resource: { buffer: this.uniformBuffer, offset: this.uniformUsed, size: bytes.byteLength } });
      this.uniformUsed += UNIFORM_ALIGN;
    }
    const bindGroup = this.device.createBindGroup({ label: k.op, layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(gx, gy, gz);
    this.counters.dispatches++;
    if (this.timing?.perDispatch) {
      // Profiling: each dispatch gets its own timestamped pass.
      this.timing.labels.push(k.op);
      pass.end();
      this.pass = null;
    }
    if (++this.pendingDispatches >= DISPATCHES_PER_SUBMIT) this.flush();
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'purify-gpu batch' });
    if (!this.pass) {
      const desc: GPUComputePassDescriptor = { label: 'purify-gpu pass' };
      if (this.timing && this.timing.used + 2 <= TIMED_PASSES * 2) {
        desc.timestampWrites = { querySet: this.timing.querySet, beginningOfPassWriteIndex: this.timing.used, endOfPassWriteIndex: this.timing.used + 1 };
        this.timing.used += 2;
      }
      this.pass = this.encoder.beginComputePass(desc);
    }
    return this.pass;
  }

  /** Submits everything encoded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = null;
    if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformArena, 0, this.uniformUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.uniformUsed = 0;
    this.pendingDispatches = 0;
    this.counters.submits++;
    this.pool.afterSubmit();
  }

  /** Copies within the current batch (ends the open pass, keeps the encoder). */
  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.computePass();
    this.pass!.end();
    this.pass = null;
    this.encoder!.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  async readBuffer(src: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({ label: 'readback', size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copyBuffer(src, 0, staging, 0, staging.size);
    this.flush();
    try {
      await Promise.race([staging.mapAsync(GPUMapMode.READ), this.gpu.lost.then(() => Promise.reject(new DeviceLostError(this.gpu.adapterName)))]);
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      if (!this.gpu.isLost()) staging.unmap();
      staging.destroy();
    }
  }

  /**
   * Runs fn and measures the GPU time of the compute passes it encodes, from timestamp queries
   * (null when the adapter lacks timestamp-query or fn needed more than TIMED_PASSES passes).
   */
  async timeGpu(fn: () => void): Promise<number | null> {
    const durations = await this.timestamps(fn, false);
    return durations && durations.reduce((a, d) => a + d.ms, 0);
  }

  /**
   * GPU time per op label, one timestamped pass per dispatch (so without batching effects);
   * `dispatches`, if given, receives every dispatch's label and time in the order they ran.
   */
  async profileOps(fn: () => void, dispatches?: { label: string; ms: number }[]): Promise<Map<string, { count: number; ms: number }> | null> {
    const durations = await this.timestamps(fn, true);
    if (!durations) return null;
    dispatches?.push(...durations);
    const byOp = new Map<string, { count: number; ms: number }>();
    for (const d of durations) {
      const e = byOp.get(d.label) ?? { count: 0, ms: 0 };
      e.count++;
      e.ms += d.ms;
      byOp.set(d.label, e);
    }
    return byOp;
  }

  private async timestamps(fn: () => void, perDispatch: boolean): Promise<{ label: string; ms: number }[] | null> {
    if (!this.gpu.features.timestampQuery) {
      fn();
      await this.sync();
      return null;
    }
    this.flush();
    const querySet = this.device.createQuerySet({ label: 'timing', type: 'timestamp', count: TIMED_PASSES * 2 });
    this.timing = { querySet, used: 0, perDispatch, labels: [] };
    try {
      fn();
      this.computePass();
      this.pass!.end();
      this.pass = null;
      const { used, labels } = this.timing;
      this.timing = null;
      if (used >= TIMED_PASSES * 2) {
        this.flush();
        return null;
      }
      const resolve = this.device.createBuffer({ label: 'timing resolve', size: TIMED_PASSES * 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      this.encoder!.resolveQuerySet(querySet, 0, used, resolve, 0);
      const raw = new BigUint64Array(await this.readBuffer(resolve, used * 8));
      resolve.destroy();
      const out: { label: string; ms: number }[] = [];
      for (let i = 0; i < used; i += 2) {
        // Drivers may report end < begin for empty passes; count those as zero.
        out.push({ label: labels[i / 2] ?? 'pass', ms: raw[i + 1] > raw[i] ? Number(raw[i + 1] - raw[i]) / 1e6 : 0 });
      }
      return out;
    } finally {
      this.timing = null;
      querySet.destroy();
    }
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  // ---------------------------------------------------------------- tensors and scopes

  track(t: Tensor): void {
    this.liveTensors.add(t);
    this.scopes[this.scopes.length - 1]?.add(t);
  }

  untrack(t: Tensor): void {
    this.liveTensors.delete(t);
    for (const s of this.scopes) s.delete(t);
  }

  /** Runs fn; tensors it creates are disposed afterwards unless returned (in a value, array or object) or kept. */
  scope<T>(fn: () => T): T {
    const created = new Set<Tensor>();
    this.scopes.push(created);
    let result: T;
    try {
      result = fn();
    } finally {
      this.scopes.pop();
    }
    const survivors = collectTensors(result);
    for (const t of created) {
      if (survivors.has(t)) this.scopes[this.scopes.length - 1]?.add(t);
      else t.dispose();
    }
    return result;
  }

  /** Async variant of scope(). Scopes must not interleave: await it before starting another. */
  async scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
    const created = new Set<Tensor>();
    const depth = this.scopes.length;
    this.scopes.push(created);
    let result: T;
    try {
      result = await fn();
    } finally {
      if (this.scopes[depth] !== created) throw new Error('scopeAsync: scopes interleaved; run async scopes one at a time');
      this.scopes.length = depth;
    }
    const survivors = collectTensors(result);
    for (const t of created) {
      if (survivors.has(t)) this.scopes[this.scopes.length - 1]?.add(t);
      else t.dispose();
    }
    return result;
  }

  /** Removes a tensor from every scope: the caller now owns it and must dispose it. */
  keep<T extends Tensor>(t: T): T {
    for (const s of this.scopes) s.delete(t);
    return t;
  }

  stats(): EngineStats {
    return { ...this.pool.snapshot(), pipelines: this.pipelines.size, ...this.counters, liveTensors: this.liveTensors.size };
  }

  destroy(): void {
    this.pool.trim();
    this.uniformBuffer.destroy();
    this.gpu.destroy();
  }
}

function collectTensors(value: unknown, out = new Set<Tensor>(), depth = 0): Set<Tensor> {
  if (value instanceof Tensor) out.add(value);
  else if (depth < 3 && Array.isArray(value)) for (const v of value) collectTensors(v, out, depth + 1);
  else if (depth < 3 && value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, depth + 1);
  }
  return out;
}

export class DeviceLostError extends Error {
  constructor(adapter: string) {
    super(`the GPU device (${adapter}) was lost; recreate the engine`);
  }
}
