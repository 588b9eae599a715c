// Attack objectives on a classifier: the gradient of the loss an attacker ascends.
import { valueAndGrad } from '../autograd.ts';
import { crossEntropy, gatherColumns, scale, sum } from '../ops/index.ts';
import type { Classifier } from '../models/types.ts';
import type { Tensor } from '../tensor.ts';

export type AttackLoss = 'ce' | 'logit';

/** ∇ₓ of the batch-summed attack loss: cross-entropy, or minus the true-class logit. */
export function lossGradient(classifier: Classifier, labels: Tensor, loss: AttackLoss = 'ce'): (x: Tensor) => Tensor {
  return (x: Tensor) => {
    const { value, grads } = valueAndGrad(
      x.engine,
      () => {
        const logits = classifier.logits(x);
        // crossEntropy is a batch mean; scaling by N makes each image's gradient independent of the batch size.
        return loss === 'ce' ? scale(crossEntropy(logits, labels), x.shape[0]) : scale(sum(gatherColumns(logits, labels)), -1);
      },
      [x],
    );
    value.dispose();
    return grads[0];
  };
}

