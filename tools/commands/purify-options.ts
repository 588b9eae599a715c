// Purification flags shared by run, demo and eval; defaults come from engine/purify/defaults.ts,
// so a flag left out means exactly what the library and the browser page use.
import { PURIFY_DEFAULTS, resolvePurifyOptions } from '../../engine/purify/defaults.ts';
import { GDMP_DISTANCES, type GdmpDistance } from '../../engine/purify/guidance.ts';
import type { Method, PurifyOptions } from '../../engine/purify/purifier.ts';

export const purifyFlags = {
  method: { type: 'string', default: PURIFY_DEFAULTS.method },
  tstar: { type: 'string' },
  steps: { type: 'string' },
  scale: { type: 'string' },
  'scale-schedule': { type: 'string', default: PURIFY_DEFAULTS.scaleSchedule },
  seed: { type: 'string' },
  repeats: { type: 'string', default: '1' },
  'class-weight': { type: 'string' },
  'latent-weight': { type: 'string' },
  latent: { type: 'string' },
  'guide-input': { type: 'string' },
  'gdmp-distance': { type: 'string', default: 'mse' },
  denoiser: { type: 'string', default: PURIFY_DEFAULTS.models.denoiser },
  guidance: { type: 'string', default: PURIFY_DEFAULTS.models.guidance },
} as const;

/** Help text for purifyFlags, shown by every command that takes them. */
export const PURIFY_FLAGS_HELP = `purification options (defaults: engine/purify/defaults.ts):
  --method agdm|diffpure|gdmp   default ${PURIFY_DEFAULTS.method}
  --tstar N                     diffusion depth; default ${Object.entries(PURIFY_DEFAULTS.methods).map(([m, d]) => `${m} ${d.tStar}`).join(', ')}
  --scale S                     guidance scale; default ${Object.entries(PURIFY_DEFAULTS.methods).map(([m, d]) => `${m} ${d.scale}`).join(', ')}
  --steps N                     reverse steps (fewer than t* runs DDIM); default t*
  --scale-schedule constant|snr --seed N (default: a fresh random seed, recorded) --repeats N (majority vote)
  --gdmp-distance mse|ssim      --class-weight W --latent-weight W --latent logits|features --guide-input xt|x0hat
  --denoiser NAME|FILE          default ${PURIFY_DEFAULTS.models.denoiser}; --guidance NAME|FILE default ${PURIFY_DEFAULTS.models.guidance}`;

const ONE_OF = { latent: ['logits', 'features'], 'guide-input': ['xt', 'x0hat'], 'scale-schedule': ['constant', 'snr'], 'gdmp-distance': GDMP_DISTANCES } as const;

export function purifyOptionsFrom(v: Record<string, string | boolean | undefined>, method = String(v.method)): PurifyOptions {
  for (const k of ['tstar', 'steps', 'scale', 'seed', 'repeats', 'class-weight', 'latent-weight']) {
    if (v[k] !== undefined && (v[k] === '' || !Number.isFinite(Number(v[k])))) throw new Error(`--${k} must be a number, got "${v[k]}"`);
  }
  for (const [k, allowed] of Object.entries(ONE_OF)) {
    if (v[k] !== undefined && !(allowed as readonly string[]).includes(String(v[k]))) throw new Error(`--${k} must be ${allowed.join(' or ')}, got "${v[k]}"`);
  }
  const num = (k: string) => (v[k] === undefined ? undefined : Number(v[k]));
  const resolved = resolvePurifyOptions({
    method: method as Method,
    tStar: num('tstar'),
    steps: num('steps'),
    scale: num('scale'),
    scaleSchedule: v['scale-schedule'] as PurifyOptions['scaleSchedule'],
    seed: num('seed'),
    agdm: {
      ...(v['class-weight'] !== undefined && { classWeight: Number(v['class-weight']) }),
      ...(v['latent-weight'] !== undefined && { latentWeight: Number(v['latent-weight']) }),
      ...(v.latent !== undefined && { latent: v.latent as 'logits' | 'features' }),
      ...(v['guide-input'] !== undefined && { input: v['guide-input'] as 'xt' | 'x0hat' }),
    },
    ...(method === 'gdmp' && { gdmpDistance: String(v['gdmp-distance'] ?? 'mse') as GdmpDistance }),
  });
  return resolved;
}
