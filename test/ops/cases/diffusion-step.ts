// The fused DDPM step out = A·x̂₀ + B·x + G·g + S·z, x̂₀ = (x − s1·ε)·s0inv (optionally clipped to
// [−1, 1]), at t = 60 of the linear schedule, with gradients w.r.t. x, ε and g (z is noise).
// Bound: x̂₀ rounds 3 times relative to (|x| + |s1·ε|)·s0inv; the combination sums 4 products
// (8 roundings of the terms' magnitude). Clipping is 1-Lipschitz; its gradient mask is uncertain
// where x̂₀ lies within its error of ±1, and there the whole A·s0inv term is at stake.
import { ops } from '../../../engine/index.ts';
import { ddpmCoefficients, linearSchedule } from '../../../engine/diffusion/schedule.ts';
import { nd, type Nd } from '../../../engine/reference/nd.ts';
import { U } from '../../helpers/error-bound.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { OpCase } from '../../helpers/op-case.ts';
import { SAFETY } from './bounds.ts';

function stepCase(clip: boolean): OpCase {
  const c = ddpmCoefficients(linearSchedule(), 60);
  const k = { s0inv: 1 / c.sqrtAlphaBar, s1: c.sqrtOneMinusAlphaBar, A: c.coefX0, B: c.coefXt, C: 0, G: 0.3, S: Math.sqrt(c.variance), clip };
  const raw = (x: Nd, eps: Nd, i: number) => (x.data[i] - k.s1 * eps.data[i]) * k.s0inv;
  const x0 = (x: Nd, eps: Nd, i: number) => (clip ? Math.min(Math.max(raw(x, eps, i), -1), 1) : raw(x, eps, i));
  const inside = (x: Nd, eps: Nd, i: number) => (!clip || Math.abs(raw(x, eps, i)) <= 1 ? 1 : 0);
  const rawErr = (x: Nd, eps: Nd, i: number) => 3 * U * (Math.abs(x.data[i]) + Math.abs(k.s1 * eps.data[i])) * k.s0inv;
  const ambiguous = (x: Nd, eps: Nd, i: number) => clip && Math.abs(Math.abs(raw(x, eps, i)) - 1) <= SAFETY * rawErr(x, eps, i);
  const shape = [3, 1, 7, 9];
  return {
    op: 'diffusionStep',
    name: `diffusionStep [${shape}] t=60${clip ? ' clip' : ''}`,
    make: (random) => ({
      inputs: [randomNd(random, shape, 1.2), randomNd(random, shape), randomNd(random, shape), randomNd(random, shape)],
      wrt: [0, 1, 2],
      gpu: ([x, eps, g, z]) => ops.diffusionStep(x, eps, k, g, z),
      ref: ([x, eps, g, z]) => nd(shape, x.data.map((v, i) => k.A * x0(x, eps, i) + k.B * v + k.G * g.data[i] + k.S * z.data[i])),
      refGrads: ([x, eps], w) => [
        nd(shape, w.data.map((wi, i) => wi * (k.A * inside(x, eps, i) * k.s0inv + k.B))),
        nd(shape, w.data.map((wi, i) => wi * (-k.A * inside(x, eps, i) * k.s1 * k.s0inv))),
        nd(shape, w.data.map((wi) => wi * k.G)),
      ],
      bounds: ([x, eps, g, z], { g: w }) => {
        const terms = (i: number) => Math.abs(k.A * x0(x, eps, i)) + Math.abs(k.B * x.data[i]) + Math.abs(k.G * g.data[i]) + Math.abs(k.S * z.data[i]);
        const maskErr = (i: number, coef: number) => (ambiguous(x, eps, i) ? Math.abs(w.data[i] * coef) : 0);
        return {
          forward: x.data.map((_, i) => SAFETY * (8 * U * terms(i) + Math.abs(k.A) * rawErr(x, eps, i))),
          grads: [
            w.data.map((wi, i) => SAFETY * (4 * U * Math.abs(wi) * (Math.abs(k.A * k.s0inv) + Math.abs(k.B)) + maskErr(i, k.A * k.s0inv))),
            w.data.map((wi, i) => SAFETY * (4 * U * Math.abs(wi * k.A * k.s1 * k.s0inv) + maskErr(i, k.A * k.s1 * k.s0inv))),
            w.data.map((wi) => SAFETY * 2 * U * Math.abs(wi * k.G)),
          ],
        };
      },
      // Clipping puts kinks at x̂₀ = ±1, which random inputs straddle.
      finiteDiff: !clip,
    }),
  };
}

export const DIFFUSION_STEP_CASES: OpCase[] = [stepCase(false), stepCase(true)];
