// What every trainer here shares: shuffled (seeded) epochs of mini-batches from a CPU-held dataset,
// a learning-rate schedule, one optimiser over a model's trainable parameters, resumable
// checkpoints and per-step progress. Subclasses say what one batch's loss is.
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { valueAndGrad } from '../autograd.ts';
import type { Dataset } from '../data/datasets.ts';
import { upload } from '../ops/common.ts';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/safetensors.ts';
import { toFloat32 } from '../io/raw-tensor.ts';
import type { Params } from '../nn/params.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { Optimizer, type OptimizerConfig } from './optimizer.ts';

export interface EpochConfig {
  epochs: number;
  batch: number;
  optimizer: OptimizerConfig;
  schedule: 'constant' | 'cosine' | 'step';
  seed: number;
  /** Train on the first N training images only. */
  limit?: number;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  imagesPerSecond: number;
}

export interface TrainState {
  epoch: number;
  step: number;
  /** Training seconds over the whole run, resumed sittings included. */
  seconds: number;
}

/** One mini-batch as the subclass sees it; `images` is a view of a buffer reused by the next batch. */
export interface Batch {
  images: Float32Array;
  shape: [number, number, number, number];
  labels: number[];
  /** Steps taken before this one over the whole run, resumed runs included: keys per-step randomness. */
  step: number;
}

export interface RunOptions {
  checkpoint?: string;
  /** Also checkpoint every this many updates (not only at epoch ends), so a killed run loses at most that many. */
  checkpointEvery?: number;
  onProgress?: (p: TrainProgress) => void;
  afterEpoch?: (epoch: number) => Promise<void>;
  /** Called every `every` updates, after the checkpoint for that update is written (a validation curve, say). */
  periodic?: { every: number; run: (state: TrainState) => Promise<void> };
}

export function shuffled(n: number, seed: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export function learningRate(cfg: Pick<EpochConfig, 'optimizer' | 'schedule'>, progress: number): number {
  const lr = cfg.optimizer.lr;
  if (cfg.schedule === 'cosine') return 0.5 * lr * (1 + Math.cos(Math.PI * progress));
  if (cfg.schedule === 'step') return progress < 0.5 ? lr : progress < 0.75 ? lr / 10 : lr / 100;
  return lr;
}

export abstract class EpochTrainer<C extends EpochConfig> {
  readonly optimizer: Optimizer;
  state: TrainState = { epoch: 0, step: 0, seconds: 0 };
  /** Epoch a resumed run started from (0 for a fresh run). */
  resumedAtEpoch = 0;

  constructor(protected engine: Engine, protected params: Params, protected cfg: C) {
    this.optimizer = new Optimizer(params, cfg.optimizer);
  }

  /** Trains on one batch at learning rate `lr` and returns its loss; runs inside an engine scope. */
  protected abstract trainBatch(batch: Batch, lr: number): Promise<number>;

  /** One optimiser step on the gradient of `loss` w.r.t. every trainable parameter; returns the loss. */
  protected descend(loss: () => Tensor, lr: number): Promise<number> {
    const { value, grads } = valueAndGrad(this.engine, loss, this.params.trainable());
    this.optimizer.apply(grads, lr);
    grads.forEach((g) => g.dispose());
    return value.item().finally(() => value.dispose());
  }

  async run(data: Dataset, opts: RunOptions = {}): Promise<void> {
    const { cfg, engine } = this;
    const n = Math.min(cfg.limit ?? data.n, data.n);
    const per = data.channels * data.height * data.width;
    const stepsPerEpoch = Math.ceil(n / cfg.batch);
    const batchImages = new Float32Array(cfg.batch * per);
    for (let epoch = this.state.epoch; epoch < cfg.epochs; epoch++) {
      const order = shuffled(n, cfg.seed + epoch);
      const first = this.state.step - epoch * stepsPerEpoch;
      const started = performance.now();
      let seen = 0;
      for (let b = Math.max(first, 0); b < stepsPerEpoch; b++) {
        const idx = order.subarray(b * cfg.batch, Math.min((b + 1) * cfg.batch, n));
        idx.forEach((src, i) => batchImages.set(data.images.subarray(src * per, (src + 1) * per), i * per));
        const batch: Batch = {
          images: batchImages.subarray(0, idx.length * per),
          shape: [idx.length, data.channels, data.height, data.width],
          labels: Array.from(idx, (src) => data.labels[src]),
          step: this.state.step,
        };
        const lr = learningRate(cfg, (epoch * stepsPerEpoch + b) / (cfg.epochs * stepsPerEpoch));
        const stepStarted = performance.now();
        const loss = await engine.scopeAsync(() => this.trainBatch(batch, lr));
        if (!Number.isFinite(loss)) throw new Error(`training diverged at epoch ${epoch + 1}, step ${b + 1}: loss ${loss}`);
        this.state.step++;
        this.state.seconds += (performance.now() - stepStarted) / 1000;
        seen += idx.length;
        opts.onProgress?.({ epoch: epoch + 1, epochs: cfg.epochs, step: b + 1, stepsPerEpoch, loss, imagesPerSecond: seen / ((performance.now() - started) / 1000) });
        if (b + 1 === stepsPerEpoch) this.state.epoch = epoch + 1;
        const every = (k?: number) => !!k && this.state.step % k === 0;
        if (opts.checkpoint && (b + 1 === stepsPerEpoch || every(opts.checkpointEvery))) await this.save(opts.checkpoint);
        if (opts.periodic && every(opts.periodic.every)) await opts.periodic.run({ ...this.state });
      }
      await opts.afterEpoch?.(epoch + 1);
    }
  }

  /** Weights, optimiser state and progress in one safetensors file, written atomically. */
  async save(path: string, extraMetadata: Record<string, string> = {}): Promise<void> {
    const tensors = await this.params.toTensorMap();
    for (const [k, v] of await this.optimizer.state()) tensors.set(k, v);
    const metadata = { ...extraMetadata, epoch: String(this.state.epoch), step: String(this.state.step), seconds: this.state.seconds.toFixed(3), config: JSON.stringify(this.cfg) };
    await writeFile(`${path}.tmp`, writeSafetensors(tensors, metadata));
    await rename(`${path}.tmp`, path);
  }

  /** Restores a checkpoint written by save(); returns false when there is none. */
  async resume(path: string): Promise<boolean> {
    if (!existsSync(path)) return false;
    this.engine.flush();
    const bytes = new Uint8Array(await readFile(path));
    const tensors = readSafetensors(bytes, path);
    const meta = readSafetensorsMetadata(bytes, path);
    for (const spec of this.params.specs.list) {
      const saved = tensors.get(spec.name);
      if (!saved) throw new Error(`${path} lacks ${spec.name}`);
      upload(this.params.get(spec.name), toFloat32(saved));
    }
    this.optimizer.restore(tensors);
    this.state = { epoch: Number(meta.epoch), step: Number(meta.step), seconds: Number(meta.seconds ?? 0) };
    this.resumedAtEpoch = this.state.epoch;
    return true;
  }
}
