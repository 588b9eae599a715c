// The full gradient of a purifier + classifier pipeline: the exact vector–Jacobian product of the
// discretised reverse chain, every step and its ε-UNet included, for one fixed noise draw (the
// reparameterised noise is a constant of that draw; eot() averages draws).
//
// Memory stays at one step's tape (gradient checkpointing): the forward pass records nothing and
// keeps only each step's input x_t; the backward pass walks the steps in reverse, re-running step
// i under valueAndGrad seeded with ∂L/∂x_{t−1} to get ∂L/∂x_t.
//
// What is exact and what is a stop-gradient:
//  - diffpure: exact.
//  - gdmp, mse: exact. g = x′_t − x_t is linear in x_t and in the input x′
//    (x′_t = √ᾱ_t·x′ + √(1−ᾱ_t)·ε_t), and both paths are differentiated.
//  - gdmp, ssim: g = ∇SSIM(x_t, x′_t) is held constant in each step (stop-gradient), because
//    valueAndGrad cannot nest and the exact term needs SSIM's Hessian–vector product; its
//    dependence on x_t and on the input x′ (through x′_t) is dropped.
//  - agdm: g = ∇G(c_φ(x_t)) is held constant in each step (stop-gradient) for the same reason (the
//    exact term needs the Hessian–vector product of c_φ); so is the reference c_φ(x′) (target and
//    labels ŷ).
// Where g is held, ∂L/∂x_t still flows through the ε-model and the step update; only the
// guidance's own dependence on x_t and x′ is dropped.
// The chain runs purify()'s plan (purify/chain-plan.ts) with the same step ops and noise keys; a
// test checks that both produce the same images.
import { valueAndGrad } from '../autograd.ts';
import type { Classifier, Denoiser } from '../models/types.ts';
import { add, affine, clamp, diffusionStep, randomNormal, scale } from '../ops/index.ts';
import { agdmReference, gdmpGradient, type AgdmReference } from '../purify/guidance.ts';
import { chainPlan, rediffusedInput, type ChainPlan } from '../purify/chain-plan.ts';
import { stepGuidance, type PurifyOptions } from '../purify/purifier.ts';
import type { Tensor } from '../tensor.ts';
import type { SampleGradient } from './eot.ts';
import { lossThroughLogits, type LogitLoss } from './objectives.ts';
import type { DefendedPipeline } from './pipeline.ts';

/** Whether the chain's guidance is built inside each step's tape (exact) rather than held constant. */
const guidanceOnTape = (plan: ChainPlan) => plan.method === 'gdmp' && plan.gdmpDistance === 'mse';

/**
 * Step i of the chain from x_t. `eps` is ε̂(x_t); `heldGuidance` the step's g where it is held
 * constant, computed by the caller. GDMP-MSE's g is built inside from x₀, so a tape sees its
 * dependence on x_t and x₀.
 */
function reverseStep(plan: ChainPlan, i: number, x: Tensor, x0: Tensor, eps: Tensor, heldGuidance?: Tensor): Tensor {
  const step = plan.steps[i];
  const g = heldGuidance ?? (guidanceOnTape(plan) && step.guided ? gdmpGradient(x, rediffusedInput(plan, step, x0), 'mse') : undefined);
  const z = step.noisy ? randomNormal(x.engine, x.shape, plan.key(1 + step.t)) : undefined;
  return diffusionStep(x, eps, step.coefficients, g, z);
}

/** A forward pass of the chain with what its backward pass needs. Owns its tensors: dispose(). */
export interface ChainTrace {
  plan: ChainPlan;
  /** The model-space input x₀. */
  x0: Tensor;
  /** The input x_t of every step. */
  states: Tensor[];
  /** Every step's guidance where it is held constant (undefined elsewhere). */
  guidance: (Tensor | undefined)[];
  /** The chain's last state, before mapping back to [0, 1]. */
  final: Tensor;
  /** purify()'s output: clamp(toUnit(final), 0, 1). */
  purified: Tensor;
  dispose(): void;
}

/** Runs the reverse chain without a tape, keeping each step's input. */
export async function traceChain(denoiser: Denoiser, images: Tensor, opts: PurifyOptions, guide?: Classifier): Promise<ChainTrace> {
  const engine = images.engine;
  const plan = chainPlan(denoiser, opts);
  if (plan.method === 'agdm' && !guide) throw new Error('agdm needs the guidance network c_φ');
  const n = images.shape[0];
  const x0 = engine.keep(affine(images, plan.toModel.a, plan.toModel.b));
  const owned: Tensor[] = [x0];
  const states: Tensor[] = [];
  const guidance: (Tensor | undefined)[] = [];
  let ref: AgdmReference | null = null;
  try {
    if (plan.method === 'agdm') {
      ref = await agdmReference(guide!, images, plan.agdm);
      owned.push(engine.keep(ref.target), engine.keep(ref.labels));
    }
    let x = engine.keep(engine.scope(() => diffusionStep(x0, randomNormal(engine, images.shape, plan.key(0)), plan.diffuse)));
    for (let i = 0; i < plan.steps.length; i++) {
      const step = plan.steps[i];
      states.push(x);
      owned.push(x);
      const { next, g } = engine.scope(() => {
        const eps = denoiser.predictEps(x, new Array(n).fill(step.t));
        // Computed outside any tape; the backward pass holds it constant.
        const g = guidanceOnTape(plan) ? undefined : stepGuidance(plan, step, x, x0, eps, guide, ref);
        return { next: reverseStep(plan, i, x, x0, eps, g), g };
      });
      if (g) owned.push(engine.keep(g));
      guidance.push(g);
      x = engine.keep(next);
      await engine.sync();
    }
    owned.push(x);
    const purified = engine.keep(engine.scope(() => clamp(affine(x, plan.toUnit.a, plan.toUnit.b), 0, 1)));
    owned.push(purified);
    return { plan, x0, states, guidance, final: x, purified, dispose: () => owned.forEach((t) => t.dispose()) };
  } catch (err) {
    owned.forEach((t) => t.dispose());
    throw err;
  }
}

/** ∂L/∂images from ∂L/∂final, one step at a time in reverse (the denoiser's parameters are constants). */
export async function chainVjp(denoiser: Denoiser, trace: ChainTrace, gradFinal: Tensor): Promise<Tensor> {
  const { plan, x0, states } = trace;
  const engine = x0.engine;
  const n = x0.shape[0];
  const exactInX0 = guidanceOnTape(plan);
  // Copied: the loop disposes each gradient it replaces, and gradFinal belongs to the caller.
  let grad = engine.keep(affine(gradFinal, 1, 0));
  let gradX0: Tensor | undefined;
  try {
    for (let i = plan.steps.length - 1; i >= 0; i--) {
      const x = states[i];
      const { value, grads } = valueAndGrad(
        engine,
        () => reverseStep(plan, i, x, x0, denoiser.predictEps(x, new Array(n).fill(plan.steps[i].t)), trace.guidance[i]),
        exactInX0 ? [x, x0] : [x],
        grad,
      );
      value.dispose();
      grad.dispose();
      grad = engine.keep(grads[0]);
      if (exactInX0) {
        const previous = gradX0;
        gradX0 = engine.keep(previous ? add(previous, grads[1]) : grads[1]);
        if (previous) {
          previous.dispose();
          grads[1].dispose();
        }
      }
      await engine.sync();
    }
    // x_T = B·x₀ + C·ε and x₀ = a·x′ + b.
    return engine.scope(() => {
      const viaXT = scale(grad, plan.diffuse.B * plan.toModel.a);
      return gradX0 ? add(viaXT, scale(gradX0, plan.toModel.a)) : viaXT;
    });
  } finally {
    grad.dispose();
    gradX0?.dispose();
  }
}

/** One noise draw of the full gradient of the classifier's loss at the purified image. */
export function fullGradientSample(p: DefendedPipeline, labels: ArrayLike<number>, loss: LogitLoss): SampleGradient {
  const { denoiser, guide, options } = p.defense;
  return async (xAdv, draw) => {
    const trace = await traceChain(denoiser, xAdv, { ...options, ...draw }, guide);
    try {
      const { a, b } = trace.plan.toUnit;
      const head = await lossThroughLogits(trace.final, (u) => p.classifier.logits(clamp(affine(u, a, b), 0, 1)), labels, loss);
      try {
        return { ...head, grad: await chainVjp(denoiser, trace, head.grad) };
      } finally {
        head.grad.dispose();
      }
    } finally {
      trace.dispose();
    }
  };
}
