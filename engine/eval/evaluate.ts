// The robustness evaluation: one defended pipeline × several attacks × several seeds over a range
// of images (all of them, or one shard). It records per-image flags (flags.ts) and derives every
// number from them. Per seed and batch: is the clean image classified correctly (purified when a
// defence is on), and is each attack's final image? A seed fixes the attack's own randomness
// (random start, EOT draws) and the defence's evaluation noise (purify repeat 0, which no attack
// draw uses). Results are per image independent of the batch size and of the image range: noise is
// keyed by the image's global index and every loss and guidance term is per image.
//
// The attack may differentiate a surrogate (say, a 10-step DDIM chain: cheap gradients), but its
// images are always scored on the pipeline being evaluated; the surrogate's own verdict on them is
// recorded beside, so the gap between what the attacker sees and what the defence does is measured.
//
// Scoring draws: each attack's final images (and the clean ones) can be scored under several draws
// of the defence's own noise. An attack is the costly part; a scoring draw is one more purification,
// so the spread a deployed stochastic defence shows on fixed adversarial images comes almost free.
// The flags then hold one row per (seed, scoring draw), seed-major.
//
// With a store, each finished (seed, batch) is saved under its own key and found again on a
// rerun, so a killed evaluation resumes where it stopped.
import { ATTACKS, runAttack, type AttackName, type AttackSettings } from '../attacks/index.ts';
import { defenseName, evaluationDraw, purifyAndClassify, type DefenseName, type Pipeline } from '../purify/defended.ts';
import { fromArray } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { summarizeFlags, type PerImageFlags } from './flags.ts';
import { argmaxRows } from './predict.ts';
import type { Summary } from './stats.ts';

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

/** JSON values by key: where finished batches are kept (a folder of files for the CLI). */
export interface KeyedStore {
  get<T>(key: string): T | undefined;
  put(key: string, value: unknown): void;
}

export interface ImageRange {
  /** First image (global index). */
  start: number;
  /** One past the last. */
  end: number;
}

export interface EvalOptions {
  attacks: AttackConfig[];
  seeds: number[];
  /** Draws of the defence's noise each image is scored under, per seed (default 1). */
  scoreDraws?: number;
  batch: number;
  /** The pipeline the attacks differentiate; default: the evaluated pipeline itself. */
  surrogate?: Pipeline;
  /** The images to evaluate; default all n. */
  range?: ImageRange;
  /** Finished batches, read before and written after each one. */
  store?: KeyedStore;
  /** How many of the first images to keep pixels and predictions of (for a grid); only a range starting at image 0 has them. */
  examples?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface AttackResult {
  attack: AttackName;
  estimator: string;
  loss: string;
  eot: number;
  settings: AttackConfig['settings'];
  /** Clean correct and not fooled, mean ± std over seeds × scoring draws. */
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
  seeds: number[];
  scoreDraws: number;
  clean: Summary;
  attacks: AttackResult[];
  worstCase: Summary;
  /** Per attack: the accuracy the surrogate chain gives the attack's images (not ANDed), when there is a surrogate. */
  surrogateAccuracy?: Record<string, Summary>;
  /** Every image's flags: the source of all the numbers above, and what shards merge and tests pair. */
  flags: PerImageFlags;
  examples?: Examples;
  seconds: number;
}

/** One scoring draw's verdicts on a batch. */
interface DrawFlags {
  clean: boolean[];
  attacks: Record<string, boolean[]>;
  surrogate?: Record<string, boolean[]>;
}

/** What one (seed, batch) produced: what a store keeps. Scoring draw 0 at the top level, draws 1 … in `redrawn`. */
interface BatchResult extends DrawFlags {
  redrawn?: DrawFlags[];
  /** Per attack: wall seconds of the attack and its scoring. */
  seconds: Record<string, number>;
  examples?: Examples;
}

/** The pipeline's predictions under scoring draw `draw` and, for a defence, the purified pixels. */
const score = (p: Pipeline, images: Tensor, seed: number, firstIndex: number, draw = 0) => purifyAndClassify(p, images, evaluationDraw(seed, firstIndex, draw));

interface BatchJob {
  seed: number;
  start: number;
  count: number;
  /** Keep the first `keep` images' pixels and predictions. */
  keep: number;
}

async function runBatch(engine: Engine, p: Pipeline, data: EvalData, opts: EvalOptions, job: BatchJob): Promise<BatchResult> {
  const [c, h, w] = p.classifier.imageShape;
  const per = c * h * w;
  const { seed, start, count, keep } = job;
  const attacker = opts.surrogate ?? p;
  const draws = opts.scoreDraws ?? 1;
  const y = Array.from({ length: count }, (_, i) => data.labels[start + i]);
  return engine.scopeAsync(async () => {
    const x = fromArray(engine, data.images.subarray(start * per, (start + count) * per), [count, c, h, w], 'eval images');
    const cleanScore = await score(p, x, seed, start);
    const isCorrect = (predicted: number[]) => predicted.map((q, i) => q === y[i]);
    const result: BatchResult = { clean: isCorrect(cleanScore.predictions), attacks: {}, seconds: {}, ...(opts.surrogate && { surrogate: {} }) };
    const redrawn: DrawFlags[] = [];
    for (let d = 1; d < draws; d++) redrawn.push({ clean: isCorrect((await score(p, x, seed, start, d)).predictions), attacks: {}, ...(opts.surrogate && { surrogate: {} }) });
    const examples: Examples | undefined = keep > 0 ? { n: keep, clean: data.images.slice(start * per, (start + keep) * per), labels: y.slice(0, keep), cleanPredicted: cleanScore.predictions.slice(0, keep), attacks: {} } : undefined;
    for (const attack of opts.attacks) {
      const t0 = performance.now();
      const label = `seed ${seed} ${attack.name}`;
      const range = opts.range ?? { start: 0, end: data.n };
      const adv = await runAttack(attack.name, attacker, x, y, { ...attack.settings, seed }, start, (done, total) => opts.onProgress?.(label, start - range.start + (count * done) / total, range.end - range.start));
      const advScore = await score(p, adv, seed, start);
      result.attacks[attack.name] = isCorrect(advScore.predictions);
      if (result.surrogate) result.surrogate[attack.name] = isCorrect((await score(attacker, adv, seed, start)).predictions);
      for (const [i, flags] of redrawn.entries()) {
        flags.attacks[attack.name] = isCorrect((await score(p, adv, seed, start, i + 1)).predictions);
        if (flags.surrogate) flags.surrogate[attack.name] = isCorrect((await score(attacker, adv, seed, start, i + 1)).predictions);
      }
      result.seconds[attack.name] = (performance.now() - t0) / 1000;
      if (examples) {
        const bare = argmaxRows(await engine.scopeAsync(() => p.classifier.logits(adv).read()), p.classifier.classes);
        examples.attacks[attack.name] = {
          adversarial: (await adv.read()).slice(0, keep * per),
          purified: advScore.purified?.slice(0, keep * per) ?? null,
          bare: bare.slice(0, keep),
          defended: advScore.predictions.slice(0, keep),
        };
      }
      adv.dispose();
    }
    return { ...result, ...(redrawn.length && { redrawn }), ...(examples && { examples }) };
  });
}

export async function evaluate(engine: Engine, p: Pipeline, data: EvalData, opts: EvalOptions): Promise<EvalResult> {
  const started = performance.now();
  const [c, h, w] = p.classifier.imageShape;
  const range = opts.range ?? { start: 0, end: data.n };
  if (!(Number.isInteger(range.start) && Number.isInteger(range.end) && 0 <= range.start && range.start < range.end && range.end <= data.n)) {
    throw new RangeError(`evaluate: image range ${range.start}–${range.end} is not inside 0–${data.n}`);
  }
  if (data.images.length < data.n * c * h * w) throw new RangeError(`evaluate: ${data.images.length} values for ${data.n} images of ${c}×${h}×${w}`);
  if (opts.surrogate && !p.defense) throw new RangeError('evaluate: a surrogate chain needs a defence to stand in for');
  const n = range.end - range.start;
  const names = opts.attacks.map((a) => a.name);
  const flags: PerImageFlags = { first: range.start, n, clean: [], attacks: Object.fromEntries(names.map((a) => [a, []])), ...(opts.surrogate && { surrogate: Object.fromEntries(names.map((a) => [a, []])) }) };
  const seconds: Record<string, number> = Object.fromEntries(names.map((a) => [a, 0]));
  let examples: Examples | undefined;

  const draws = opts.scoreDraws ?? 1;
  if (!Number.isInteger(draws) || draws < 1) throw new RangeError(`evaluate: scoreDraws must be a positive integer, got ${draws}`);
  for (const seed of opts.seeds) {
    const drawFlags = Array.from({ length: draws }, () => ({ clean: [] as boolean[], attacks: Object.fromEntries(names.map((a) => [a, [] as boolean[]])), surrogate: Object.fromEntries(names.map((a) => [a, [] as boolean[]])) }));
    for (let start = range.start; start < range.end; start += opts.batch) {
      const count = Math.min(opts.batch, range.end - start);
      // The first seed's first batch of the range keeps the grid's examples (a shard's own first images).
      const keep = seed === opts.seeds[0] && start === range.start ? Math.min(opts.examples ?? 0, count) : 0;
      const key = `seed-${seed}/images-${start}-${start + count}${draws > 1 ? `/draws-${draws}` : ''}`;
      let batch = opts.store?.get<BatchResult>(key);
      if (!batch) {
        batch = await runBatch(engine, p, data, opts, { seed, start, count, keep });
        opts.store?.put(key, batch);
      }
      for (const [d, scored] of [batch, ...(batch.redrawn ?? [])].entries()) {
        drawFlags[d].clean.push(...scored.clean);
        for (const a of names) {
          drawFlags[d].attacks[a].push(...scored.attacks[a]);
          drawFlags[d].surrogate[a].push(...(scored.surrogate?.[a] ?? []));
        }
      }
      for (const a of names) seconds[a] += batch.seconds[a];
      examples ??= batch.examples;
      opts.onProgress?.(`seed ${seed}`, start + count - range.start, n);
    }
    for (const row of drawFlags) {
      flags.clean.push(row.clean);
      for (const a of names) {
        flags.attacks[a].push(row.attacks[a]);
        flags.surrogate?.[a].push(row.surrogate[a]);
      }
    }
  }

  const summaries = summarizeFlags(flags);
  const attacker = opts.surrogate ?? p;
  return {
    defense: defenseName(p),
    seeds: opts.seeds,
    scoreDraws: draws,
    clean: summaries.clean,
    attacks: opts.attacks.map((a) => attackResult(a, attacker, summaries.robust[a.name], seconds[a.name] / (n * opts.seeds.length))),
    worstCase: summaries.worstCase,
    ...(summaries.surrogate && { surrogateAccuracy: summaries.surrogate }),
    flags,
    examples,
    seconds: (performance.now() - started) / 1000,
  };
}

/** How an attack ran against the pipeline it differentiated: its estimator and EOT (1 without a defence). */
export function attackResult(a: AttackConfig, attacked: Pipeline, robust: Summary, secondsPerImage: number): AttackResult {
  const spec = ATTACKS[a.name];
  const eot = attacked.defense && spec.eot ? a.settings.eot : 1;
  return { attack: a.name, estimator: attacked.defense ? spec.estimator : 'exact', loss: spec.loss, eot, settings: { ...a.settings, eot }, robust, secondsPerImage };
}
