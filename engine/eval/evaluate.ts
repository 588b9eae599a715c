// The robustness evaluation: one pipeline (a classifier, bare or behind a purifier) × several
// attacks × several seeds over the first N images. Per seed, clean accuracy (purified when a
// defence is on), robust accuracy per attack and the worst case per image (robust only if every
// attack failed on it); summaries are mean ± std over the seeds. A seed fixes the attack's own
// randomness (random start, EOT draws) and the defence's evaluation noise (purify repeat 0, which
// no attack draw uses). Results are per image independent of the batch size: noise is keyed by
// the image's global index and every loss and guidance term is per image.
import { ATTACKS, runAttack, type AttackName, type AttackSettings } from '../attacks/index.ts';
import { defenseName, evaluationDraw, pipelineLogits, purifyWith, type DefenseName, type Pipeline } from '../attacks/pipeline.ts';
import { fromArray } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { argmaxRows } from './predict.ts';

export interface AttackConfig {
  name: AttackName;
  settings: Omit<AttackSettings, 'seed'>;
}

export interface EvalData {
  /** N×C×H×W in [0, 1]. */
  images: Float32Array;
  labels: ArrayLike<number>;
  n: number;
}

export interface EvalOptions {
  attacks: AttackConfig[];
  seeds: number[];
  batch: number;
  /** How many of the first images to keep pixels and predictions of (for a grid). */
  examples?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface Summary {
  mean: number;
  std: number;
  perSeed: number[];
}

export interface AttackResult {
  attack: AttackName;
  estimator: string;
  loss: string;
  eot: number;
  settings: AttackConfig['settings'];
  robust: Summary;
  /** Wall time of the attack (and its scoring) per image and seed. */
  secondsPerImage: number;
}

export interface Examples {
  n: number;
  clean: Float32Array;
  labels: number[];
  /** The pipeline's predictions on the clean images. */
  cleanPredicted: number[];
  attacks: Record<string, { adversarial: Float32Array; purified: Float32Array | null; bare: number[]; defended: number[] }>;
}

export interface EvalResult {
  defense: DefenseName;
  n: number;
  seeds: number[];
  clean: Summary;
  attacks: AttackResult[];
  worstCase: Summary;
  /** Per seed and image: correct on clean, and under each attack (for sanity checks and re-analysis). */
  correct: { clean: boolean[][]; attacks: Record<string, boolean[][]> };
  examples?: Examples;
  seconds: number;
}

export function summarize(values: number[]): Summary {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, std, perSeed: values };
}

const fraction = (flags: boolean[]) => flags.filter(Boolean).length / flags.length;

/** The pipeline's predictions (under the evaluation draw) and, for a defence, the purified pixels. */
async function score(p: Pipeline, images: Tensor, seed: number, firstIndex: number, keepPixels: boolean): Promise<{ predicted: number[]; purified: Float32Array | null }> {
  const engine = images.engine;
  const draw = evaluationDraw(seed, firstIndex);
  if (!keepPixels || !p.defense) return { predicted: argmaxRows(await pipelineLogits(p, images, draw), p.classifier.classes), purified: null };
  return engine.scopeAsync(async () => {
    const purified = await purifyWith(p.defense!, images, draw);
    return { predicted: argmaxRows(await p.classifier.logits(purified).read(), p.classifier.classes), purified: await purified.read() };
  });
}

export async function evaluate(engine: Engine, p: Pipeline, data: EvalData, opts: EvalOptions): Promise<EvalResult> {
  const started = performance.now();
  const [c, h, w] = p.classifier.imageShape;
  const per = c * h * w;
  const { n, labels } = data;
  if (data.images.length < n * per) throw new RangeError(`evaluate: ${data.images.length} values for ${n} images of ${c}×${h}×${w}`);
  const keep = Math.min(opts.examples ?? 0, n, opts.batch);
  const clean: boolean[][] = [];
  const robust: Record<string, boolean[][]> = Object.fromEntries(opts.attacks.map((a) => [a.name, []]));
  const attackSeconds: Record<string, number> = Object.fromEntries(opts.attacks.map((a) => [a.name, 0]));
  let examples: Examples | undefined;

  for (const seed of opts.seeds) {
    const cleanFlags: boolean[] = [];
    const attackFlags: Record<string, boolean[]> = Object.fromEntries(opts.attacks.map((a) => [a.name, []]));
    for (let start = 0; start < n; start += opts.batch) {
      const count = Math.min(opts.batch, n - start);
      const y = Array.from({ length: count }, (_, i) => labels[start + i]);
      const record = !examples && start === 0 && keep > 0;
      await engine.scopeAsync(async () => {
        const x = fromArray(engine, data.images.subarray(start * per, (start + count) * per), [count, c, h, w], 'eval images');
        const cleanScore = await score(p, x, seed, start, false);
        cleanFlags.push(...cleanScore.predicted.map((q, i) => q === y[i]));
        if (record) {
          examples = { n: keep, clean: data.images.slice(0, keep * per), labels: y.slice(0, keep), cleanPredicted: cleanScore.predicted.slice(0, keep), attacks: {} };
        }
        for (const attack of opts.attacks) {
          const t0 = performance.now();
          const settings = { ...attack.settings, seed };
          const label = `seed ${seed} ${attack.name}`;
          const adv = await runAttack(attack.name, p, x, y, settings, start, (done, total) => opts.onProgress?.(label, start + (count * done) / total, n));
          const advScore = await score(p, adv, seed, start, record);
          attackSeconds[attack.name] += (performance.now() - t0) / 1000;
          attackFlags[attack.name].push(...advScore.predicted.map((q, i) => q === y[i]));
          if (record) {
            const pixels = await adv.read();
            const bare = argmaxRows(await engine.scopeAsync(() => p.classifier.logits(adv).read()), p.classifier.classes);
            examples!.attacks[attack.name] = {
              adversarial: pixels.slice(0, keep * per),
              purified: advScore.purified?.slice(0, keep * per) ?? null,
              bare: bare.slice(0, keep),
              defended: advScore.predicted.slice(0, keep),
            };
          }
          adv.dispose();
        }
      });
      opts.onProgress?.(`seed ${seed}`, start + count, n);
    }
    clean.push(cleanFlags);
    for (const a of opts.attacks) robust[a.name].push(attackFlags[a.name]);
  }

  const worst = opts.seeds.map((_, s) => Array.from({ length: n }, (_, i) => opts.attacks.every((a) => robust[a.name][s][i])));
  return {
    defense: defenseName(p),
    n,
    seeds: opts.seeds,
    clean: summarize(clean.map(fraction)),
    attacks: opts.attacks.map((a) => {
      const spec = ATTACKS[a.name];
      const eot = p.defense && spec.eot ? a.settings.eot : 1;
      return {
        attack: a.name,
        estimator: p.defense ? spec.estimator : 'exact',
        loss: spec.loss,
        eot,
        settings: { ...a.settings, eot },
        robust: summarize(robust[a.name].map(fraction)),
        secondsPerImage: attackSeconds[a.name] / (n * opts.seeds.length),
      };
    }),
    worstCase: summarize(worst.map(fraction)),
    correct: { clean, attacks: robust },
    examples,
    seconds: (performance.now() - started) / 1000,
  };
}
