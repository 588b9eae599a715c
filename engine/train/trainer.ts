// Mini-batch training of a classifier (epochs, schedule, checkpoints: epoch-trainer.ts), optionally
// TRADES adversarial training (Zhang et al. 2019) with KL or latent-MSE divergence, and optional
// random-shift augmentation.
import { valueAndGrad } from '../autograd.ts';
import type { Classifier } from '../models/types.ts';
import { add, crossEntropy, fromArray, klDivLoss, logSoftmax, mseLoss, randomNormal, scale } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { ascentDirection } from '../attacks/pgd.ts';
import { projectLinf } from '../attacks/project.ts';
import { randomShiftBatch } from '../data/augment.ts';
import { EpochTrainer, type Batch, type EpochConfig } from './epoch-trainer.ts';

export interface TradesConfig {
  /** Weight of the divergence term (TRADES' β; 1/λ in its paper). */
  beta: number;
  eps: number;
  steps: number;
  stepSize: number;
  divergence: 'kl' | 'latent-mse';
}

export interface TrainConfig extends EpochConfig {
  trades?: TradesConfig;
  /** Random translation of every training image by up to this many pixels (0 or absent: none). */
  shift?: number;
  /** The last this many training images are held out (validation curve), never trained on. */
  holdout?: number;
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

export class Trainer extends EpochTrainer<TrainConfig> {
  constructor(engine: Engine, private model: Classifier, cfg: TrainConfig) {
    if (cfg.trades?.divergence === 'latent-mse' && !model.features) throw new Error(`${model.name} exposes no features for latent-MSE TRADES`);
    super(engine, model.params, cfg);
  }

  /** CE, plus β·divergence under TRADES, of one (shifted) batch. */
  protected trainBatch(batch: Batch, lr: number): Promise<number> {
    const { model, cfg, engine } = this;
    const [n, channels, height, width] = batch.shape;
    randomShiftBatch(batch.images, n, channels, height, width, cfg.shift ?? 0, cfg.seed * 1_000_003 + batch.step);
    const x = fromArray(engine, batch.images, batch.shape, 'batch');
    const xAdv = cfg.trades ? tradesAdversary(model, x, cfg.trades, cfg.seed, batch.step) : null;
    const loss = this.descend(() => {
      const ce = crossEntropy(model.logits(x), batch.labels);
      if (!xAdv || !cfg.trades) return ce;
      const t = cfg.trades;
      const divergence = t.divergence === 'kl'
        ? klDivLoss(logSoftmax(model.logits(xAdv)), logSoftmax(model.logits(x)))
        : scale(mseLoss(model.features!(xAdv).features, model.features!(x).features, 'sum'), 1 / n);
      return add(ce, scale(divergence, t.beta));
    }, lr);
    xAdv?.dispose();
    return loss;
  }
}
