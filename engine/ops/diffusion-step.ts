// The fused diffusion update (shaders/diffusion_step.wgsl), differentiable in x, ε and g.
import { record } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { FLAT_WG, empty, flatGrid } from './common.ts';
import { scale } from './unary.ts';

export interface StepCoefficients {
  /** 1/sqrt(ᾱ_t) and sqrt(1 − ᾱ_t) of the x̂₀ estimate (unused when A = 0). */
  s0inv: number;
  s1: number;
  A: number;
  B: number;
  C: number;
  G: number;
  S: number;
  clip: boolean;
}

export function diffusionStepKernel(clip: boolean, backward: boolean): KernelSpec {
  return { op: backward ? 'diffusion_step_backward' : 'diffusion_step', shader: 'diffusion_step', defines: { WG: FLAT_WG, CLIP: clip, BACKWARD: backward } };
}

function params(c: StepCoefficients, size: number, groupsX: number): Uniforms {
  return new Uniforms().u32(size, groupsX).f32(c.s0inv, c.s1, c.A, c.B, c.C, c.G, c.S);
}

/** out = A·x̂₀(x, ε) + B·x + C·ε + G·g + S·z. */
export function diffusionStep(x: Tensor, eps: Tensor, c: StepCoefficients, g?: Tensor, z?: Tensor): Tensor {
  for (const [name, t] of [['ε', eps], ['g', g], ['z', z]] as const) {
    if (t && t.size !== x.size) throw new RangeError(`diffusion step: ${name} has shape [${t.shape}], x has [${x.shape}]`);
  }
  const engine = x.engine;
  const out = empty(engine, x.shape, 'diffusion_step');
  const { groups, groupsX } = flatGrid(engine, x.size);
  const coeffs = { ...c, G: g ? c.G : 0, S: z ? c.S : 0 };
  engine.dispatch(diffusionStepKernel(c.clip, false), [x, eps, g ?? x, z ?? x, out], params(coeffs, x.size, groupsX), groups);
  const inputs = g ? [x, eps, g] : [x, eps];
  return record('diffusion_step', inputs, out, (gOut) => {
    const gradX = empty(engine, x.shape, 'diffusion_step_backward');
    const gradEps = empty(engine, x.shape, 'diffusion_step_backward');
    engine.dispatch(diffusionStepKernel(c.clip, true), [x, eps, gOut, gradX, gradEps], params(coeffs, x.size, groupsX), groups);
    return g ? [gradX, gradEps, scale(gOut, coeffs.G)] : [gradX, gradEps];
  });
}

export const diffusionStepKernels = (): KernelSpec[] => [false, true].flatMap((clip) => [diffusionStepKernel(clip, false), diffusionStepKernel(clip, true)]);
