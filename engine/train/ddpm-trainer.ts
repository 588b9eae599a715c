// Trains (or fine-tunes) a denoiser's ε-model on the DDPM objective (ddpm-objective.ts). Step k of
// a run draws its timesteps and noise from the key (seed, k), so a resumed run continues the very
// stream an uninterrupted one would have used.
import type { Dataset } from '../data/datasets.ts';
import type { Denoiser } from '../models/types.ts';
import { fromArray, randomNormal } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import { checkImageShape, ddpmLoss, sampleTimesteps, toModelSpace } from './ddpm-objective.ts';
import { EpochTrainer, type Batch, type EpochConfig, type RunOptions } from './epoch-trainer.ts';

export class DdpmTrainer extends EpochTrainer<EpochConfig> {
  constructor(engine: Engine, private denoiser: Denoiser, cfg: EpochConfig) {
    super(engine, denoiser.params, cfg);
  }

  override run(data: Dataset, opts: RunOptions = {}): Promise<void> {
    checkImageShape(this.denoiser, data);
    return super.run(data, opts);
  }

  protected trainBatch(batch: Batch, lr: number): Promise<number> {
    const { denoiser, engine, cfg } = this;
    const key = { seed: cfg.seed, stream: batch.step };
    const x0 = toModelSpace(denoiser, fromArray(engine, batch.images, batch.shape, 'batch'));
    const eps = randomNormal(engine, batch.shape, key);
    const t = sampleTimesteps(batch.shape[0], denoiser.schedule.T, key);
    return this.descend(() => ddpmLoss(denoiser, x0, t, eps), lr);
  }
}
