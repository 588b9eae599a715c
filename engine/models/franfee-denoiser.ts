// The Franfee MNIST DDPM as a Denoiser: linear β schedule (1e-4 → 0.02, T = 1000), images fed in
// [0, 1] — the measured quirk in shared/data/README.md (MSE at t=100: 0.04 vs 1.55 for [−1, 1]).
import { linearSchedule } from '../diffusion/schedule.ts';
import type { Params } from '../nn/params.ts';
import { FRANFEE_MNIST, franfeeForward, type FranfeeConfig } from './franfee-unet.ts';
import type { Denoiser } from './types.ts';

export function franfeeDenoiser(p: Params, cfg: FranfeeConfig = FRANFEE_MNIST): Denoiser {
  return {
    name: 'franfee-ddpm-mnist',
    imageShape: [cfg.imageChannels, cfg.size, cfg.size],
    dataRange: 'unit',
    schedule: linearSchedule(cfg.steps),
    params: p,
    predictEps: (x, t) => franfeeForward(p, cfg, x, t),
  };
}
