// The full gradient of a purifier + classifier pipeline: the exact vector–Jacobian product of the
// discretised reverse chain, every step and its ε-UNet included, for one fixed noise draw (the
// reparameterised noise is a constant of that draw; eot() averages draws).
//
// Memory stays at one step's tape (gradient checkpointing): the forward pass records nothing and
// keeps only each step's input x_t; the backward pass walks the steps in reverse, re-running step
// i under valueAndGrad seeded with ∂L/∂x_{t−1} to get ∂L/∂x_t.
//
// What is exact ('exact', the default): every method, guidance included. Each step's guidance g is
// built inside that step's tape, and g is itself a gradient (AGDM: g = ∇ₓ G(c_φ(x_t)); GDMP-SSIM:
// ∇SSIM), so the tape differentiates a gradient computation (autograd.ts, higher order): the
// backward gets g's dependence on x_t (a Hessian–vector product of G, c_φ's own curvature included
// for smooth nets; for a ReLU c_φ it is exact almost everywhere, where the Hessian of c_φ is 0)
// and on the input x′: GDMP through x′_t = √ᾱ_t·x′ + √(1−ᾱ_t)·ε_t, AGDM through the reference
// c_φ(x′), a leaf of every step's tape whose gradients are summed and pulled back through c_φ at x′
// once at the end. AGDM's labels ŷ = argmax c_φ(x′) are piecewise constant in x′: gradient 0
// almost everywhere (the chain jumps where ŷ flips; no gradient sees that).
// 'held' (a cheaper surrogate, and the comparison point): AGDM's and GDMP-SSIM's g are computed
// outside the tape and held constant in each step, and AGDM's reference c_φ(x′) too; ∂L/∂x_t still
// flows through the ε-model and the step update. GDMP-MSE's g = x′_t − x_t is linear and stays exact.
// The forward pass is purify()'s own chain loop (purify/purifier.ts runChain), keeping each step's
// input; a test checks that both produce the same images.
import { valueAndGrad } from '../autograd.ts';
import type { Classifier, Denoiser } from '../models/types.ts';
import { add, affine, clamp, scale } from '../ops/index.ts';
import { agdmRepresentation } from '../purify/guidance.ts';
import type { ChainPlan } from '../purify/chain-plan.ts';
import { purifiedImages, reverseStep, runChain, stepGuidance, type ChainRun, type PurifyOptions } from '../purify/purifier.ts';
import type { Tensor } from '../tensor.ts';
import type { SampleGradient } from './eot.ts';
import { lossThroughLogits, type LogitLoss } from './objectives.ts';
import type { DefendedPipeline } from '../purify/defended.ts';

/** How the backward pass treats each step's guidance (see above). */
export type GuidanceGradient = 'exact' | 'held';

/** Whether the chain's guidance is built inside each step's tape rather than held constant. */
const guidanceOnTape = (plan: ChainPlan, mode: GuidanceGradient) => mode === 'exact' || (plan.method === 'gdmp' && plan.gdmpDistance === 'mse');

/** A forward pass of the chain with what its backward pass needs. Owns its tensors: dispose(). */
export interface ChainTrace extends ChainRun {
  /** How the backward pass treats the guidance. */
  mode: GuidanceGradient;
  /** purify()'s output: clamp(toUnit(final), 0, 1). */
  purified: Tensor;
}

/** Runs purify()'s chain without a tape, keeping each step's input (and the guidance where it is held). */
export async function traceChain(denoiser: Denoiser, images: Tensor, opts: PurifyOptions, guide?: Classifier, mode: GuidanceGradient = 'exact'): Promise<ChainTrace> {
  const engine = images.engine;
  const run = await runChain(denoiser, images, opts, guide, { states: true, guidance: (plan) => !guidanceOnTape(plan, mode) });
  const purified = engine.keep(engine.scope(() => purifiedImages(run)));
  return { ...run, mode, purified, dispose: () => { run.dispose(); purified.dispose(); } };
}

/** Adds b into the kept accumulator a (either may be undefined); disposes what it replaces. */
function accumulate(a: Tensor | undefined, b: Tensor): Tensor {
  if (!a) return b.engine.keep(b);
  const sum = b.engine.keep(add(a, b));
  a.dispose();
  b.dispose();
  return sum;
}

/**
 * ∂L/∂images from ∂L/∂final, one step at a time in reverse (the models' parameters are constants).
 * `guide` is AGDM's c_φ, needed to rebuild the guidance on each step's tape.
 */
export async function chainVjp(denoiser: Denoiser, trace: ChainTrace, gradFinal: Tensor, images: Tensor, guide?: Classifier): Promise<Tensor> {
  const { plan, x0, states, ref, mode } = trace;
  const engine = x0.engine;
  const n = x0.shape[0];
  const onTape = guidanceOnTape(plan, mode);
  // The input reaches the steps through x₀ (GDMP's x′_t) and through AGDM's reference c_φ(x′).
  const viaX0 = onTape && plan.method === 'gdmp';
  const target = onTape && plan.method === 'agdm' ? ref!.target : undefined;
  // Copied: the loop disposes each gradient it replaces, and gradFinal belongs to the caller.
  let grad = engine.keep(affine(gradFinal, 1, 0));
  let gradX0: Tensor | undefined;
  let gradTarget: Tensor | undefined;
  try {
    for (let i = plan.steps.length - 1; i >= 0; i--) {
      const x = states[i];
      const step = plan.steps[i];
      const wrt = [x, ...(viaX0 ? [x0] : []), ...(target ? [target] : [])];
      const { value, grads } = valueAndGrad(
        engine,
        () => {
          const eps = denoiser.predictEps(x, new Array(n).fill(step.t));
          const g = onTape ? stepGuidance(plan, step, x, x0, eps, guide, ref) : trace.guidance[i];
          return reverseStep(plan, i, x, eps, g);
        },
        wrt,
        grad,
      );
      value.dispose();
      grad.dispose();
      grad = engine.keep(grads[0]);
      if (viaX0) gradX0 = accumulate(gradX0, grads[1]);
      if (target) gradTarget = accumulate(gradTarget, grads[wrt.length - 1]);
      await engine.sync();
    }
    // x_T = B·x₀ + C·ε and x₀ = a·x′ + b; c_φ's reference sees x′ itself.
    return engine.scope(() => {
      const viaXT = scale(grad, plan.diffuse.B * plan.toModel.a);
      const direct = gradX0 ? add(viaXT, scale(gradX0, plan.toModel.a)) : viaXT;
      if (!gradTarget) return direct;
      const viaRef = valueAndGrad(engine, () => agdmRepresentation(guide!, images, plan.agdm.latent), [images], gradTarget).grads[0];
      return add(direct, viaRef);
    });
  } finally {
    grad.dispose();
    gradX0?.dispose();
    gradTarget?.dispose();
  }
}

/** One noise draw of the full gradient of the classifier's loss at the purified image. */
export function fullGradientSample(p: DefendedPipeline, labels: ArrayLike<number>, loss: LogitLoss, mode: GuidanceGradient = 'exact'): SampleGradient {
  const { denoiser, guide, options } = p.defense;
  return async (xAdv, draw) => {
    const trace = await traceChain(denoiser, xAdv, { ...options, ...draw }, guide, mode);
    try {
      const { a, b } = trace.plan.toUnit;
      const head = await lossThroughLogits(trace.final, (u) => p.classifier.logits(clamp(affine(u, a, b), 0, 1)), labels, loss);
      try {
        return { ...head, grad: await chainVjp(denoiser, trace, head.grad, xAdv, guide) };
      } finally {
        head.grad.dispose();
      }
    } finally {
      trace.dispose();
    }
  };
}
