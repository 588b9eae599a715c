// Mini-batch training of a classifier on a CPU-held dataset: shuffled (seeded) epochs, Adam/SGD,
// step or cosine learning-rate schedules, optional TRADES adversarial training (Zhang et al. 2019)
// with KL or latent-MSE divergence, resumable checkpoints and per-step progress.
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { valueAndGrad } from '../autograd.ts';
import type { Dataset } from '../data/datasets.ts';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/safetensors.ts';
import { toFloat32 } from '../io/raw-tensor.ts';
import type { Classifier } from '../models/types.ts';
import { add, crossEntropy, fromArray, klDivLoss, logSoftmax, mseLoss, randomNormal, scale } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { ascentDirection } from '../attacks/pgd.ts';
import { projectLinf } from '../attacks/project.ts';
import { randomShiftBatch } from '../data/augment.ts';
import { Optimizer, type OptimizerConfig } from './optimizer.ts';

export interface TradesConfig {
  /** Weight of the divergence term (TRADES' β; 1/λ in its paper). */
  beta: number;
  eps: number;
  steps: number;
  stepSize: number;
  divergence: 'kl' | 'latent-mse';
}

export interface TrainConfig {
  epochs: number;
  batch: number;
  optimizer: OptimizerConfig;
  schedule: 'constant' | 'cosine' | 'step';
  seed: number;
  /** Train on the first N training images only. */
  limit?: number;
  trades?: TradesConfig;
  /** Random translation of every training image by up to this many pixels (0 or absent: none). */
  shift?: number;
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
}

function shuffled(n: number, seed: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export function learningRate(cfg: TrainConfig, progress: number): number {
  const lr = cfg.optimizer.lr;
  if (cfg.schedule === 'cosine') return 0.5 * lr * (1 + Math.cos(Math.PI * progress));
  if (cfg.schedule === 'step') return progress < 0.5 ? lr : progress < 0.75 ? lr / 10 : lr / 100;
  return lr;
}

/** TRADES inner maximisation: PGD on the divergence from the clean prediction, started at x + 0.001·N(0, I). */
function tradesAdversary(model: Classifier, x: Tensor, t: TradesConfig, seed: number, step: number): Tensor {
  const engine = x.engine;
  const clean = engine.scope(() => (t.divergence === 'kl' ? logSoftmax(model.logits(x)) : model.features!(x).features));
  let xAdv = engine.keep(add(x, scale(randomNormal(engine, x.shape, { seed, stream: step }), 0.001)));
  for (let k = 0; k < t.steps; k++) {
    const { value, grads } = valueAndGrad(engine, () => {
      return t.divergence === 'kl' ? klDivLoss(logSoftmax(model.logits(xAdv)), clean) : mseLoss(model.features!(xAdv).features, clean, 'sum');
    }, [xAdv]);
    const next = engine.scope(() => projectLinf(add(xAdv, scale(ascentDirection('linf', grads[0]), t.stepSize)), x, t.eps));
    value.dispose();
    grads[0].dispose();
    xAdv.dispose();
    xAdv = engine.keep(next);
  }
  clean.dispose();
  return xAdv;
}

export class Trainer {
  readonly optimizer: Optimizer;
  state: TrainState = { epoch: 0, step: 0 };
  /** Epoch a resumed run started from (0 for a fresh run). */
  resumedAtEpoch = 0;

  constructor(private engine: Engine, private model: Classifier, private cfg: TrainConfig) {
    if (cfg.trades?.divergence === 'latent-mse' && !model.features) throw new Error(`${model.name} exposes no features for latent-MSE TRADES`);
    this.optimizer = new Optimizer(model.params, cfg.optimizer);
  }

  /** Loss of one batch (CE, plus β·divergence under TRADES) and its parameter gradients, applied. */
  private trainStep(x: Tensor, labels: number[], progress: number): Promise<number> {
    const { model, cfg, engine } = this;
    const params = model.params.trainable();
    const xAdv = cfg.trades ? tradesAdversary(model, x, cfg.trades, cfg.seed, this.state.step) : null;
    const { value, grads } = valueAndGrad(engine, () => {
      const ce = crossEntropy(model.logits(x), labels);
      if (!xAdv || !cfg.trades) return ce;
      const t = cfg.trades;
      const divergence = t.divergence === 'kl'
        ? klDivLoss(logSoftmax(model.logits(xAdv)), logSoftmax(model.logits(x)))
        : scale(mseLoss(model.features!(xAdv).features, model.features!(x).features, 'sum'), 1 / x.shape[0]);
      return add(ce, scale(divergence, t.beta));
    }, params);
    this.optimizer.apply(grads, learningRate(cfg, progress));
    grads.forEach((g) => g.dispose());
    xAdv?.dispose();
    return value.item().finally(() => value.dispose());
  }

  async run(data: Dataset, opts: { checkpoint?: string; onProgress?: (p: TrainProgress) => void; afterEpoch?: (epoch: number) => Promise<void> } = {}): Promise<void> {
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
        const labels = Array.from(idx, (src) => data.labels[src]);
        randomShiftBatch(batchImages, idx.length, data.channels, data.height, data.width, cfg.shift ?? 0, cfg.seed * 1_000_003 + this.state.step);
        const loss = await engine.scopeAsync(async () => {
          const x = fromArray(engine, batchImages.subarray(0, idx.length * per), [idx.length, data.channels, data.height, data.width], 'batch');
          return this.trainStep(x, labels, (epoch * stepsPerEpoch + b) / (cfg.epochs * stepsPerEpoch));
        });
        if (!Number.isFinite(loss)) throw new Error(`training diverged at epoch ${epoch + 1}, step ${b + 1}: loss ${loss}`);
        this.state.step++;
        seen += idx.length;
        opts.onProgress?.({ epoch: epoch + 1, epochs: cfg.epochs, step: b + 1, stepsPerEpoch, loss, imagesPerSecond: seen / ((performance.now() - started) / 1000) });
      }
      this.state.epoch = epoch + 1;
      if (opts.checkpoint) await this.save(opts.checkpoint);
      await opts.afterEpoch?.(epoch + 1);
    }
  }

  /** Weights, optimiser state and progress in one safetensors file, written atomically. */
  async save(path: string, extraMetadata: Record<string, string> = {}): Promise<void> {
    const tensors = await this.model.params.toTensorMap();
    for (const [k, v] of await this.optimizer.state()) tensors.set(k, v);
    const metadata = { ...extraMetadata, epoch: String(this.state.epoch), step: String(this.state.step), config: JSON.stringify(this.cfg) };
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
    for (const spec of this.model.params.specs.list) {
      const saved = tensors.get(spec.name);
      if (!saved) throw new Error(`${path} lacks ${spec.name}`);
      this.engine.device.queue.writeBuffer(this.model.params.get(spec.name).gpuBuffer(), 0, toFloat32(saved));
    }
    this.optimizer.restore(tensors);
    this.state = { epoch: Number(meta.epoch), step: Number(meta.step) };
    this.resumedAtEpoch = this.state.epoch;
    return true;
  }
}
