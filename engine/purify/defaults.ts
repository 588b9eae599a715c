// The one table of purification defaults. The library, the CLI, the workers and the browser page
// all resolve a partial request through resolvePurifyOptions(), so the same method means the same
// chain everywhere. The values were chosen by measurement (README, "Choosing the defaults";
// reports/agdm-scale-sweep-tuning.md, on tuning images only): agdm t* = 70 with s = 30 for the shipped
// c_φ, diffpure and gdmp t* = 100, gdmp s = 2. A scale fits one guidance network: retraining c_φ
// changed the best s from 300 to 30 (s = 300 now loses 17 points in the sweep), so re-run the sweep after it.
// There is no default seed: a call without one draws a fresh random seed (random-seed.ts), which
// the resolved options, and so every result, record.
import type { Method, PurifyOptions } from './purifier.ts';
import { randomSeed } from './random-seed.ts';

export const METHODS = ['agdm', 'diffpure', 'gdmp'] as const satisfies readonly Method[];

export type ModelRole = 'denoiser' | 'classifier' | 'guidance';

export interface MethodDefaults {
  tStar: number;
  scale: number;
}

export const PURIFY_DEFAULTS = {
  method: 'agdm',
  scaleSchedule: 'constant',
  methods: {
    agdm: { tStar: 70, scale: 30 },
    diffpure: { tStar: 100, scale: 0 },
    gdmp: { tStar: 100, scale: 2 },
  },
  /** The shipped models the defaults were measured with. */
  models: { denoiser: 'franfee-mnist', classifier: 'mnist-cnn', guidance: 'mnist-guidance' },
  /** Their files in weights/ (what a browser fetches). */
  weightFiles: { denoiser: 'franfee-ddpm-mnist.safetensors', classifier: 'mnist-cnn.safetensors', guidance: 'mnist-guidance.safetensors' },
} as const satisfies {
  method: Method;
  scaleSchedule: PurifyOptions['scaleSchedule'];
  methods: Record<Method, MethodDefaults>;
  models: Record<ModelRole, string>;
  weightFiles: Record<ModelRole, string>;
};

/** What a caller may leave out: everything but nothing at all (the method defaults to agdm). */
export type PurifySettings = Partial<Omit<PurifyOptions, 'onStep' | 'signal'>>;

export class InvalidOptionError extends RangeError {
  override name = 'InvalidOptionError';
}

const isMethod = (m: unknown): m is Method => (METHODS as readonly unknown[]).includes(m);

function checkInteger(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min)) throw new InvalidOptionError(`${name} must be an integer ≥ ${min}, got ${value}`);
}

/** Fills every option the caller left out from PURIFY_DEFAULTS (the seed: a fresh one) and rejects impossible values. */
export function resolvePurifyOptions(settings: PurifySettings = {}): Omit<PurifyOptions, 'onStep' | 'signal'> {
  const method = settings.method ?? PURIFY_DEFAULTS.method;
  if (!isMethod(method)) throw new InvalidOptionError(`unknown method "${method}" (${METHODS.join(', ')})`);
  const base = PURIFY_DEFAULTS.methods[method];
  const resolved = {
    ...settings,
    method,
    tStar: settings.tStar ?? base.tStar,
    scale: settings.scale ?? base.scale,
    seed: settings.seed ?? randomSeed(),
    scaleSchedule: settings.scaleSchedule ?? PURIFY_DEFAULTS.scaleSchedule,
  };
  checkInteger('tStar', resolved.tStar, 1);
  checkInteger('steps', resolved.steps, 1);
  checkInteger('seed', resolved.seed, 0);
  if (!Number.isFinite(resolved.scale)) throw new InvalidOptionError(`scale must be a finite number, got ${resolved.scale}`);
  if (resolved.scaleSchedule !== 'constant' && resolved.scaleSchedule !== 'snr') throw new InvalidOptionError(`scaleSchedule must be "constant" or "snr", got "${resolved.scaleSchedule}"`);
  return resolved;
}
