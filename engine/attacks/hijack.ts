// The ŷ-hijack, an attack aimed at AGDM's guidance. AGDM steers every reverse step toward
// ŷ = argmax c_φ(x′), and x′ is the attacker's own input, so the attacker can fool the classifier
// through the purifier and, in the same objective, move ŷ: once c_φ(x′) names a wrong class the
// guidance itself pulls the chain toward it. Per image, with λ = HIJACK_WEIGHT:
//   untargeted  L = CE(f(P(x′)), y) + λ·CE(c_φ(x′), y)
//   targeted    L = −CE(f(P(x′)), t) − λ·CE(c_φ(x′), t),  t = c_φ's runner-up class at the clean image
// The first term's gradient is the chain's (full or BPDA, as the spec's estimator says, one noise
// draw per sample); the second is c_φ's exact gradient at x′, the same under every draw.
import { argmaxRows } from '../eval/predict.ts';
import type { Classifier } from '../models/types.ts';
import { add, scale } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';
import type { SampleGradient } from './eot.ts';
import { classifierGradient } from './objectives.ts';

/** λ: both cross-entropies are in nats, so equal weight asks as much of c_φ's flip as of f's. */
export const HIJACK_WEIGHT = 1;

export interface HijackGoal {
  /** Per image, the class both terms push toward; null: untargeted (away from the true label). */
  targets: number[] | null;
}

/** Per image, c_φ's most likely class other than the true label: the cheapest ŷ to install. */
export async function runnerUpTargets(guide: Classifier, clean: Tensor, labels: ArrayLike<number>): Promise<number[]> {
  const logits = await clean.engine.scopeAsync(() => guide.logits(clean).read());
  const k = guide.classes;
  return Array.from({ length: clean.shape[0] }, (_, i) => {
    const row = logits.slice(i * k, (i + 1) * k);
    row[labels[i]] = -Infinity;
    return argmaxRows(row, k)[0];
  });
}

/**
 * One noise draw of the hijack objective: `chain` is the pipeline's sample gradient of CE toward
 * the labels it was built with (the true labels, or the targets when targeted); the reported logits
 * stay the pipeline's, so the attack still judges success by the defended classifier.
 */
export function hijackSample(chain: SampleGradient, guide: Classifier, labels: ArrayLike<number>, goal: HijackGoal): SampleGradient {
  const sign = goal.targets ? -1 : 1;
  const guideGradient = classifierGradient(guide, goal.targets ?? labels, 'ce');
  return async (xAdv, draw) => {
    const engine = xAdv.engine;
    const head = await chain(xAdv, draw);
    const aux = await guideGradient(xAdv, 0);
    try {
      const grad = engine.keep(engine.scope(() => scale(add(head.grad, scale(aux.grad, HIJACK_WEIGHT)), sign)));
      return { grad, loss: head.loss.map((v, i) => sign * (v + HIJACK_WEIGHT * aux.loss[i])), logits: head.logits };
    } finally {
      head.grad.dispose();
      aux.grad.dispose();
    }
  };
}
