// BPDA (Athalye et al. 2018) for purifiers: run the real purifier forward, take the classifier's
// gradient at the purified image and pass it straight through, i.e. treat purification as the
// identity on the backward pass. Combine with eot() for randomised purifiers.
import type { SampleGradient } from './eot.ts';
import { lossThroughLogits, type LogitLoss } from './objectives.ts';
import { purifyWith, type DefendedPipeline } from '../purify/defended.ts';

export function bpdaSample(p: DefendedPipeline, labels: ArrayLike<number>, loss: LogitLoss): SampleGradient {
  return async (xAdv, draw) => {
    const purified = await purifyWith(p.defense, xAdv, draw);
    try {
      return await lossThroughLogits(purified, (u) => p.classifier.logits(u), labels, loss);
    } finally {
      purified.dispose();
    }
  };
}
