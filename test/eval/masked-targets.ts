// Broken attack targets for the sanity-check tests: each wraps a classifier's honest target and
// breaks one thing an evaluation can get wrong (Athalye et al. 2018's obfuscated gradients).
import type { AttackTarget } from '../../engine/attacks/target.ts';
import { fromArray, scale, zeros } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { randn, rng } from '../helpers/check.ts';

/** Stop-gradient: the output is the classifier's, the gradient every attack receives is zero. */
export function stopGradient(base: AttackTarget): AttackTarget {
  return {
    ...base,
    sample: (estimator, labels, loss) => async (x, draw) => {
      const r = await base.sample(estimator, labels, loss)(x, draw);
      r.grad.dispose();
      return { ...r, grad: x.engine.keep(zeros(x.engine, x.shape)) };
    },
  };
}

/** fn on transform(x), the transformed copy freed afterwards. */
async function through<T>(transform: (x: Tensor) => Promise<Tensor>, x: Tensor, fn: (u: Tensor) => Promise<T>): Promise<T> {
  const u = await transform(x);
  try {
    return await fn(u);
  } finally {
    u.dispose();
  }
}

/**
 * A quantiser in front of the classifier (a shattered gradient): its true derivative is zero almost
 * everywhere; the gradient given is the classifier's at the quantised image, passed straight through.
 */
export function quantiser(base: AttackTarget, levels = 4): AttackTarget {
  const quantise = async (x: Tensor) => fromArray(x.engine, (await x.read()).map((v) => Math.round(v * levels) / levels), x.shape, 'quantised');
  return {
    ...base,
    logits: (x, draw) => through(quantise, x, (u) => base.logits(u, draw)),
    sample: (estimator, labels, loss) => (x, draw) => through(quantise, x, (u) => base.sample(estimator, labels, loss)(u, draw)),
  };
}

/**
 * A randomised input transform x → x + σ·ξ whose noise the draw does not fix: every call draws
 * afresh, so no two evaluations, nor a gradient and the loss it should predict, share noise.
 */
export function uncontrolledNoise(base: AttackTarget, seed: number, sigma = 0.05): AttackTarget {
  // One seeded stream for the target's life: replayable, but every call continues it.
  const random = rng(seed);
  const noisy = async (x: Tensor) => {
    const noise = randn(random, x.size, sigma);
    return fromArray(x.engine, (await x.read()).map((p, j) => p + noise[j]), x.shape, 'noisy');
  };
  return {
    ...base,
    randomised: true,
    logits: (x, draw) => through(noisy, x, (u) => base.logits(u, draw)),
    sample: (estimator, labels, loss) => (x, draw) => through(noisy, x, (u) => base.sample(estimator, labels, loss)(u, draw)),
  };
}

/**
 * A randomised defence whose gradient has the right mean but not per draw: draw r's gradient is
 * −g for odd repeats and 3g for even ones, so a one-sample attack steps back and forth (EOT 1
 * uses repeats 1, 2, 3, … in turn) while averaging two draws ascends with g.
 */
export function alternatingGradient(base: AttackTarget): AttackTarget {
  return {
    ...base,
    randomised: true,
    sample: (estimator, labels, loss) => async (x, draw) => {
      const r = await base.sample(estimator, labels, loss)(x, draw);
      const grad = x.engine.keep(scale(r.grad, draw.repeat % 2 === 1 ? -1 : 3));
      r.grad.dispose();
      return { ...r, grad };
    },
  };
}
