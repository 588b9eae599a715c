// Unconditional ancestral DDPM sampling from pure noise: the check that a denoiser really models
// its data (Ho et al. 2020, Algorithm 2).
import { modelSpace } from './model-space.ts';
import { ddpmCoefficients } from './schedule.ts';
import { affine, clamp, diffusionStep, randomNormal } from '../ops/index.ts';
import type { Denoiser } from '../models/types.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';

export async function sample(engine: Engine, denoiser: Denoiser, n: number, seed: number, onStep?: (done: number, total: number) => void): Promise<Tensor> {
  const s = denoiser.schedule;
  const shape = [n, ...denoiser.imageShape];
  let x = engine.keep(randomNormal(engine, shape, { seed, stream: 0 }));
  const clip = denoiser.dataRange === 'symmetric';
  for (let t = s.T - 1; t >= 0; t--) {
    const next = engine.scope(() => {
      const k = ddpmCoefficients(s, t);
      const eps = denoiser.predictEps(x, new Array(n).fill(t));
      const z = t > 0 ? randomNormal(engine, shape, { seed, stream: 1 + t }) : undefined;
      return diffusionStep(x, eps, { s0inv: 1 / k.sqrtAlphaBar, s1: k.sqrtOneMinusAlphaBar, A: k.coefX0, B: k.coefXt, C: 0, G: 0, S: t > 0 ? Math.sqrt(k.variance) : 0, clip }, undefined, z);
    });
    x.dispose();
    x = engine.keep(next);
    onStep?.(s.T - t, s.T);
    await engine.sync();
  }
  const { a, b } = modelSpace(denoiser).toUnit;
  const out = clamp(affine(x, a, b), 0, 1);
  x.dispose();
  return out;
}
