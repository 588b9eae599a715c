// Broken attack targets for the sanity-check tests: each wraps a classifier's honest target and
// breaks one thing an evaluation can get wrong (Athalye et al. 2018's obfuscated gradients).
import type { AttackTarget } from '../../engine/attacks/target.ts';
import { fromArray, zeros } from '../../engine/ops/index.ts';
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
 * A randomised defence whose gradient has the right mean but is drowned in noise per draw: draws
 * 2k − 1 and 2k return g + K·ξ_k and g − K·ξ_k, with ξ_k a random sign field and K far above |g|.
 * A one-sample attack (EOT 1 takes repeats 1, 2, 3, … in turn) steps ±α·ξ_k and back, ending where
 * its random start put it; averaging two draws (repeats 2k − 1 and 2k in one step) ascends with g.
 * The walk must return: a scheme that ends on an ascent step (−g, 3g, …) breaks a fragile
 * classifier with that one step (seed 1158813466), and the check it should fail then passes.
 */
export function antitheticNoise(base: AttackTarget, seed: number): AttackTarget {
  return {
    ...base,
    randomised: true,
    sample: (estimator, labels, loss) => async (x, draw) => {
      const r = await base.sample(estimator, labels, loss)(x, draw);
      const g = await r.grad.read();
      r.grad.dispose();
      const pair = Math.floor((draw.repeat - 1) / 2);
      const random = rng((seed ^ Math.imul(pair + 1, 0x9e3779b1) ^ Math.imul(draw.firstIndex + 1, 0x85ebca6b)) >>> 0);
      const k = 1e3 * g.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
      const sign = draw.repeat % 2 === 1 ? 1 : -1;
      const noisy = g.map((v) => v + sign * k * (random() < 0.5 ? -1 : 1));
      return { ...r, grad: x.engine.keep(fromArray(x.engine, noisy, x.shape, 'antithetic-noise')) };
    },
  };
}
