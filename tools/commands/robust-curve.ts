// The validation curve of adversarial training: clean and PGD-20 accuracy on held-out training
// images, appended as one JSON line per measurement so a run that spans sittings keeps one curve
// (robust accuracy against updates and training seconds) from which to tell when it plateaus.
import { appendFileSync, writeFileSync } from 'node:fs';
import type { Dataset } from '../../engine/data/datasets.ts';
import { accuracy, predictAll } from '../../engine/eval/predict.ts';
import { pgdAccuracy } from '../../engine/eval/robustness.ts';
import type { Classifier } from '../../engine/models/types.ts';
import type { Engine } from '../../engine/runtime.ts';
import type { TrainState } from '../../engine/train/epoch-trainer.ts';

/** PGD-20 with α = 2.5·ε/20 and a random start: the budget Madry et al. pair with a step count. */
const CURVE_STEPS = 20;

export interface CurvePoint {
  update: number;
  epoch: number;
  seconds: number;
  cleanAccuracy: number;
  pgd20Accuracy: number;
  heldOut: number;
  robustN: number;
}

export class RobustCurve {
  private readonly images: Float32Array;
  private readonly labels: number[];

  constructor(private engine: Engine, private model: Classifier, train: Dataset, heldOut: number, private robustN: number, private eps: number, readonly path: string) {
    const per = train.channels * train.height * train.width;
    const first = train.n - heldOut;
    this.images = train.images.subarray(first * per);
    this.labels = Array.from(train.labels).slice(first);
    this.robustN = Math.min(robustN, heldOut);
  }

  reset(): void {
    writeFileSync(this.path, '');
  }

  async measure(state: TrainState): Promise<CurvePoint> {
    const { engine, model, labels } = this;
    const clean = accuracy(await predictAll(engine, model, this.images, labels.length), labels);
    const robust = await pgdAccuracy(engine, model, this.images, labels, this.robustN, { norm: 'linf', eps: this.eps, steps: CURVE_STEPS, stepSize: (2.5 * this.eps) / CURVE_STEPS, randomStart: true, seed: 11 }, 128);
    const point: CurvePoint = { update: state.step, epoch: state.epoch, seconds: Math.round(state.seconds), cleanAccuracy: clean, pgd20Accuracy: robust, heldOut: labels.length, robustN: this.robustN };
    appendFileSync(this.path, `${JSON.stringify(point)}\n`);
    console.error(`\nupdate ${state.step} (${point.seconds} s): held-out clean ${(100 * clean).toFixed(2)} %, PGD-${CURVE_STEPS} ${(100 * robust).toFixed(2)} % (${this.robustN} images)`);
    return point;
  }
}
