// Purification flags shared by run, demo and eval.
import { GDMP_DISTANCES, type GdmpDistance } from '../../engine/purify/guidance.ts';
import { DEFAULT_TSTAR, type Method, type PurifyOptions } from '../../engine/purify/purifier.ts';

export const purifyFlags = {
  method: { type: 'string', default: 'agdm' },
  tstar: { type: 'string' },
  steps: { type: 'string' },
  scale: { type: 'string' },
  'scale-schedule': { type: 'string', default: 'constant' },
  seed: { type: 'string', default: '0' },
  repeats: { type: 'string', default: '1' },
  'class-weight': { type: 'string' },
  'latent-weight': { type: 'string' },
  latent: { type: 'string' },
  'guide-input': { type: 'string' },
  'gdmp-distance': { type: 'string', default: 'mse' },
  denoiser: { type: 'string', default: 'franfee-mnist' },
  guidance: { type: 'string', default: 'mnist-guidance' },
} as const;

/** Default guidance scales per method, chosen by measurement (README, "Choosing the defaults"). */
export const DEFAULT_SCALE: Record<Method, number> = { diffpure: 0, gdmp: 2, agdm: 300 };

export function purifyOptionsFrom(v: Record<string, string | boolean | undefined>, method = String(v.method)): PurifyOptions {
  if (!['diffpure', 'gdmp', 'agdm'].includes(method)) throw new Error(`unknown method "${method}" (diffpure, gdmp or agdm)`);
  const m = method as Method;
  const num = (k: string) => (v[k] === undefined ? undefined : Number(v[k]));
  for (const k of ['tstar', 'steps', 'scale', 'seed', 'repeats', 'class-weight', 'latent-weight']) {
    if (v[k] !== undefined && !Number.isFinite(Number(v[k]))) throw new Error(`--${k} must be a number, got "${v[k]}"`);
  }
  const distance = String(v['gdmp-distance'] ?? 'mse');
  if (!(GDMP_DISTANCES as readonly string[]).includes(distance)) throw new Error(`--gdmp-distance must be ${GDMP_DISTANCES.join(' or ')}, got "${distance}"`);
  return {
    method: m,
    tStar: num('tstar') ?? DEFAULT_TSTAR[m],
    steps: num('steps'),
    scale: num('scale') ?? DEFAULT_SCALE[m],
    scaleSchedule: v['scale-schedule'] === 'snr' ? 'snr' : 'constant',
    seed: num('seed') ?? 0,
    agdm: {
      ...(v['class-weight'] !== undefined && { classWeight: Number(v['class-weight']) }),
      ...(v['latent-weight'] !== undefined && { latentWeight: Number(v['latent-weight']) }),
      ...(v.latent !== undefined && { latent: v.latent as 'logits' | 'features' }),
      ...(v['guide-input'] !== undefined && { input: v['guide-input'] as 'xt' | 'x0hat' }),
    },
    ...(m === 'gdmp' && { gdmpDistance: distance as GdmpDistance }),
  };
}
