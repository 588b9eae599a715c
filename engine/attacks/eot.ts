// Expectation over Transformation (Athalye et al. 2018): the gradient of a randomised pipeline is
// averaged over K independent noise draws. Draw k of attack step s is purification repeat
// 1 + s·K + k: fresh noise for every sample and step, the same noise within one sample's forward
// and backward pass, reproducible from the seed, and never the defence's evaluation draw (repeat 0).
import { add, scale } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';
import type { GradientFn, LossAndGradient } from './objectives.ts';
import type { NoiseDraw } from '../purify/defended.ts';

/** One gradient sample of a randomised pipeline under a fixed noise draw. */
export type SampleGradient = (xAdv: Tensor, draw: NoiseDraw) => Promise<LossAndGradient>;

export const attackRepeat = (step: number, sample: number, samples: number) => 1 + step * samples + sample;

export function eot(sample: SampleGradient, samples: number, seed: number, firstIndex: number): GradientFn {
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`EOT needs a positive number of samples, got ${samples}`);
  return async (xAdv, step) => {
    const engine = xAdv.engine;
    let sum: LossAndGradient | null = null;
    for (let k = 0; k < samples; k++) {
      const r = await sample(xAdv, { seed, repeat: attackRepeat(step, k, samples), firstIndex });
      if (!sum) {
        sum = r;
        continue;
      }
      const grad: Tensor = engine.keep(add(sum.grad, r.grad));
      sum.grad.dispose();
      r.grad.dispose();
      sum = { grad, loss: sum.loss.map((v, i) => v + r.loss[i]), logits: sum.logits.map((v, i) => v + r.logits[i]) };
    }
    if (samples === 1) return sum!;
    const mean = engine.keep(scale(sum!.grad, 1 / samples));
    sum!.grad.dispose();
    return { grad: mean, loss: sum!.loss.map((v) => v / samples), logits: sum!.logits.map((v) => v / samples) };
  };
}
