// PurifierApi over one engine: the worker owns its device, builds the models once, keeps compiled
// pipelines between requests and runs requests one at a time (engine scopes must not interleave).
// The same object is exposed over Comlink (browser and Node workers) and called by pool tasks.
import { transfer } from 'comlink';
import { classifierGradient } from '../engine/attacks/objectives.ts';
import { pgd } from '../engine/attacks/pgd.ts';
import { argmaxRows } from '../engine/eval/predict.ts';
import { classifierFromBytes, denoiserFromBytes } from '../engine/models/from-bytes.ts';
import type { Classifier, Denoiser } from '../engine/models/types.ts';
import { fromArray } from '../engine/ops/index.ts';
import { resolvePurifyOptions } from '../engine/purify/defaults.ts';
import { purify } from '../engine/purify/purifier.ts';
import { DeviceLostError, Engine } from '../engine/runtime.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { AttackRequest, ImageBatch, ModelSource, ProgressCallback, PurifiedBatch, PurifierApi, PurifierConfig, PurifyRequest, WorkerInfo, WorkerStats } from './api.ts';

/** How a Node worker finds models by name (engine/models/catalog.ts); browsers send bytes instead. */
export interface NamedModels {
  denoiser(engine: Engine, name: string): Promise<Denoiser>;
  classifier(engine: Engine, name: string): Promise<Classifier>;
}

interface Loaded {
  engine: Engine;
  denoiser: Denoiser;
  classifier?: Classifier;
  guidance?: Classifier;
}

/** A non-zero scale, so agdm's warm-up compiles the guidance gradient's kernels too. */
const WARM_UP = { tStar: 2, seed: 0, scale: 1 } as const;

export class PurifierService implements PurifierApi {
  private loaded: Loaded | null = null;
  private lostReason: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private jobs = new Map<string, AbortController>();
  private counters = { tasks: 0, steps: 0 };
  /** Counts init() calls, so a late loss report from a replaced device is ignored. */
  private generation = 0;

  constructor(private named?: NamedModels) {}

  get deviceLost(): boolean {
    return this.lostReason !== null;
  }

  /** The engine, for callers in the same thread (pool tasks, tests). */
  get engine(): Engine {
    return this.models().engine;
  }

  async init(config: PurifierConfig): Promise<WorkerInfo> {
    const started = performance.now();
    this.dispose();
    this.lostReason = null;
    const generation = ++this.generation;
    const engine = await Engine.create({
      adapter: config.adapter,
      onLost: (info) => {
        if (generation === this.generation) this.lostReason = info.message || info.reason;
      },
    });
    try {
      const loaded: Loaded = {
        engine,
        denoiser: config.denoiser.bytes ? denoiserFromBytes(engine, config.denoiser.bytes, config.denoiser.name) : await this.byName(config.denoiser, (n) => this.named!.denoiser(engine, n)),
        classifier: config.classifier && (await this.classifierFrom(engine, config.classifier)),
        guidance: config.guidance && (await this.classifierFrom(engine, config.guidance)),
      };
      this.loaded = loaded;
      if (config.warmUp ?? true) await this.warmUp(loaded);
    } catch (err) {
      this.loaded = null;
      engine.destroy();
      throw err;
    }
    const l = this.loaded;
    return {
      adapter: engine.gpu.adapterName,
      software: engine.gpu.software,
      models: [l.denoiser, l.classifier, l.guidance].filter((m) => m !== undefined).map((m) => m.name),
      initMs: performance.now() - started,
    };
  }

  purify(batch: ImageBatch, options: PurifyRequest, onProgress?: ProgressCallback, jobId?: string): Promise<PurifiedBatch> {
    return this.run(jobId, async (signal) => {
      const { engine, denoiser, guidance } = this.models();
      const onStep = this.stepCounter(onProgress);
      const resolved = resolvePurifyOptions(options);
      const data = await this.withInput(batch, (x) => engine.scopeAsync(async () => (await purify(denoiser, x, { ...resolved, signal, onStep }, guidance)).read()));
      return transfer({ data, shape: batch.shape, seed: resolved.seed }, [data.buffer]);
    });
  }

  classify(batch: ImageBatch): Promise<number[]> {
    return this.run(undefined, async () => {
      const { engine } = this.models();
      const classifier = this.attacked();
      const logits = await this.withInput(batch, (x) => engine.scopeAsync(() => classifier.logits(x).read()));
      return argmaxRows(logits, classifier.classes);
    });
  }

  attack(batch: ImageBatch, labels: number[], options: AttackRequest, onProgress?: ProgressCallback, jobId?: string): Promise<ImageBatch> {
    return this.run(jobId, async (signal) => {
      const { engine } = this.models();
      const classifier = this.attacked();
      const onStep = this.stepCounter(onProgress);
      const data = await this.withInput(batch, (x) =>
        engine.scopeAsync(async () => {
          return (await pgd(x, classifierGradient(classifier, labels), { ...options, signal, onStep })).read();
        }),
      );
      return transfer({ data, shape: batch.shape }, [data.buffer]);
    });
  }

  cancel(jobId: string): void {
    this.jobs.get(jobId)?.abort();
  }

  stats(): WorkerStats {
    const { engine } = this.models();
    return { adapter: engine.gpu.adapterName, ...this.counters, engine: engine.stats() };
  }

  dispose(): void {
    this.loaded?.engine.destroy();
    this.loaded = null;
  }

  // ---------------------------------------------------------------- internals

  private async byName<T>(source: ModelSource, load: (name: string) => Promise<T>): Promise<T> {
    if (!this.named) throw new Error(`no weights given for ${source.name}: this worker cannot look models up by name, send their bytes`);
    return load(source.name);
  }

  private classifierFrom(engine: Engine, source: ModelSource): Promise<Classifier> {
    if (source.bytes) return Promise.resolve(classifierFromBytes(engine, source.name, source.bytes));
    return this.byName(source, (n) => this.named!.classifier(engine, n));
  }

  /** Compiles the kernels real requests use (and lets software drivers JIT them) on a 1-image job. */
  private async warmUp({ engine, denoiser, guidance, classifier }: Loaded): Promise<void> {
    const [c, h, w] = denoiser.imageShape;
    const gray = new Float32Array(c * h * w).fill(0.5);
    const methods = guidance ? (['diffpure', 'agdm'] as const) : (['diffpure'] as const);
    await this.withInput({ data: gray, shape: [1, c, h, w] }, async (x) => {
      for (const method of methods) await engine.scopeAsync(async () => (await purify(denoiser, x, { ...WARM_UP, method }, guidance)).read());
      if (classifier) await engine.scopeAsync(() => classifier.logits(x).read());
    });
  }

  private models(): Loaded {
    if (this.lostReason !== null) throw new DeviceLostError(`${this.loaded?.engine.gpu.adapterName ?? 'device'}: ${this.lostReason}`);
    if (!this.loaded) throw new Error('the purifier worker is not initialised: call init() first');
    return this.loaded;
  }

  private attacked(): Classifier {
    const { classifier } = this.models();
    if (!classifier) throw new Error('no classifier was given to init(), so there is nothing to classify or attack');
    return classifier;
  }

  private stepCounter(onProgress?: ProgressCallback): (step: number, steps: number) => void {
    return (step, steps) => {
      this.counters.steps++;
      onProgress?.({ step, steps });
    };
  }

  /** Uploads the batch and frees it whatever happens (a cancelled job throws out of its scope). */
  private async withInput<T>(batch: ImageBatch, body: (x: Tensor) => Promise<T>): Promise<T> {
    const x = fromArray(this.models().engine, batch.data, batch.shape, 'images');
    try {
      return await body(x);
    } finally {
      x.dispose();
    }
  }

  /** Runs jobs one after another; a job cancelled while queued never starts. */
  private run<T>(jobId: string | undefined, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    if (jobId !== undefined) this.jobs.set(jobId, controller);
    const job = this.queue.then(() => {
      controller.signal.throwIfAborted();
      return body(controller.signal);
    });
    this.queue = job.catch(() => undefined);
    return job.finally(() => {
      if (jobId !== undefined && this.jobs.get(jobId) === controller) this.jobs.delete(jobId);
      this.counters.tasks++;
    });
  }
}
