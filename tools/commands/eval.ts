// `purify eval`: clean and robust accuracy of defences under adaptive attacks, image by image.
// Every adversarial image is scored on the defence the flags name (by default the shipped one at
// PURIFY_DEFAULTS: full DDPM chains); --attack-purify-steps/--attack-eta/--attack-tstar give the
// attacks a cheaper surrogate chain to differentiate instead, and the report measures the gap.
// --shard K/N evaluates one block of the images; finished batches are checkpointed so a killed
// run resumes; `purify eval merge` joins shards (and renders several runs) into one report.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sha256Hex } from './fingerprint.ts';
import { ATTACKS, ATTACK_NAMES, isAttackName, type AttackName } from '../../engine/attacks/index.ts';
import type { DefendedPipeline, Defense, DefenseName, Pipeline } from '../../engine/purify/defended.ts';
import type { Norm } from '../../engine/attacks/project.ts';
import { dataRoot, loadDataset, type DatasetName } from '../../engine/data/datasets.ts';
import { imageGrid, type GridRow } from '../../engine/data/grid.ts';
import { evaluate, type AttackConfig, type EvalResult, type ImageRange, type KeyedStore } from '../../engine/eval/evaluate.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { sanityChecks, type SanityCheck } from '../../engine/eval/sanity.ts';
import { parseShard, shardRange } from '../../engine/eval/shard.ts';
import { surrogateGap } from '../../engine/eval/surrogate-gap.ts';
import { classifierPath, denoiserPath, loadClassifier, loadDenoiser } from '../../engine/models/catalog.ts';
import { assertModelsFit } from '../../engine/purify/session.ts';
import type { Classifier, Denoiser } from '../../engine/models/types.ts';
import { fromArray } from '../../engine/ops/index.ts';
import type { Engine } from '../../engine/runtime.ts';
import { ProgressBar, formatTime } from '../progress.ts';
import { reportRows, renderReport, type DefenseReport, type EvalReport, type GapReport, type ModelRecord } from './eval-report.ts';
import { folderStore } from './eval-store.ts';
import { deviceOptions, engineFrom } from './options.ts';
import { purifyOptionsFrom } from './purify-options.ts';
import { writeOutput } from './output-file.ts';

// cphi: AGDM's guidance network c_φ as the classifier, no purification. It is adversarially
// trained, so if it alone is as robust as agdm, the purification adds nothing.
const DEFENSES = ['none', 'cphi', 'diffpure', 'gdmp', 'agdm'] as const;

function list<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!(allowed as readonly string[]).includes(item)) throw new Error(`unknown ${what} "${item}"; known: ${allowed.join(', ')}`);
  if (!items.length) throw new Error(`no ${what} given`);
  return items as T[];
}

function positive(value: string | undefined, flag: string, integer = true): number {
  const v = Number(value);
  if (!(v > 0) || (integer && !Number.isInteger(v))) throw new Error(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  return v;
}

/** The command line as a shell would need it typed (arguments with spaces or quotes quoted). */
const shellLine = (argv: string[]) => ['purify', 'eval', ...argv].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');

const modelRecord = (name: string, file: string): ModelRecord => ({ name, file, sha256: sha256Hex(readFileSync(file)) });

export async function run(argv: string[]): Promise<void> {
  if (argv[0] === 'merge') return (await import('./eval-merge.ts')).run(argv.slice(1));
  if (argv[0] === 'curve') return (await import('./eval-curve.ts')).run(argv.slice(1));
  const { values } = parseArgs({
    args: argv,
    options: {
      ...deviceOptions,
      data: { type: 'string', default: 'mnist' },
      classifier: { type: 'string', default: 'mnist-cnn' },
      denoiser: { type: 'string', default: 'franfee-mnist' },
      guidance: { type: 'string', default: 'mnist-guidance' },
      defense: { type: 'string', default: 'none' },
      attack: { type: 'string', default: 'pgd-eot' },
      norm: { type: 'string', default: 'linf' },
      eps: { type: 'string' },
      steps: { type: 'string', default: '20' },
      queries: { type: 'string', default: '1000' },
      'step-size': { type: 'string' },
      eot: { type: 'string', default: '4' },
      n: { type: 'string', default: '64' },
      seeds: { type: 'string', default: '1' },
      'score-draws': { type: 'string', default: '1' },
      seed: { type: 'string', default: '0' },
      batch: { type: 'string', default: '64' },
      tstar: { type: 'string' },
      'purify-steps': { type: 'string' },
      'purify-eta': { type: 'string' },
      'attack-tstar': { type: 'string' },
      'attack-purify-steps': { type: 'string' },
      'attack-eta': { type: 'string' },
      'gap-n': { type: 'string', default: '4' },
      scale: { type: 'string' },
      'scale-schedule': { type: 'string', default: 'constant' },
      'class-weight': { type: 'string' },
      'latent-weight': { type: 'string' },
      latent: { type: 'string' },
      'guide-input': { type: 'string' },
      'gdmp-distance': { type: 'string' },
      'sanity-n': { type: 'string', default: '16' },
      examples: { type: 'string', default: '8' },
      shard: { type: 'string' },
      checkpoint: { type: 'string' },
      json: { type: 'string' },
      md: { type: 'string' },
      grid: { type: 'string' },
      title: { type: 'string', default: 'MNIST robustness under adaptive attacks' },
    },
  });
  const norm = values.norm as Norm;
  if (norm !== 'linf' && norm !== 'l2') throw new Error(`--norm must be linf or l2, got "${values.norm}"`);
  const eps = positive(values.eps ?? (norm === 'linf' ? '0.3' : '2'), 'eps', false);
  const defenses = list(values.defense, DEFENSES, 'defence');
  const attackNames = list(values.attack, ATTACK_NAMES, 'attack').filter(isAttackName) as AttackName[];
  const guideAttacks = attackNames.filter((a) => ATTACKS[a].needsGuide);
  const unguided = defenses.filter((d) => d !== 'agdm');
  // Checked before any work: otherwise the run would fail at the first unguided defence, hours in.
  if (guideAttacks.length && unguided.length) throw new Error(`--attack ${guideAttacks.join(',')} attacks AGDM's guidance network; --defense ${unguided.join(',')} has none: run those defences in a separate eval`);
  const steps = positive(values.steps, 'steps');
  const settings = { norm, eps, steps, eot: positive(values.eot, 'eot'), stepSize: values['step-size'] ? positive(values['step-size'], 'step-size', false) : undefined };
  // Square is black box: its budget is logit queries, not gradient steps.
  const queries = positive(values.queries, 'queries');
  const attacks: AttackConfig[] = attackNames.map((name) => ({ name, settings: name === 'square' ? { ...settings, steps: queries } : settings }));
  const seedCount = positive(values.seeds, 'seeds');
  const firstSeed = Number(values.seed);
  const seeds = Array.from({ length: seedCount }, (_, i) => firstSeed + i);
  const scoreDraws = positive(values['score-draws'], 'score-draws');
  const batch = positive(values.batch, 'batch');
  const sanityN = Number(values['sanity-n']);
  const gapN = Number(values['gap-n']);
  const shard = values.shard ? parseShard(values.shard) : null;
  const checkpoint = values.checkpoint ?? (values.json ? `${values.json}.checkpoint` : undefined);

  const requested = positive(values.n, 'n');
  const data = loadDataset(values.data as DatasetName, 'test', { limit: requested });
  // A data folder with fewer images (the package's own 256) must not quietly shrink the run: its
  // shards would cover other images than the same command's shards elsewhere.
  if (data.n < requested) throw new Error(`--n ${requested}: the ${values.data} test set in ${dataRoot()} holds ${data.n} images; set PURIFY_DATA to the folder holding the full set, or ask for fewer`);
  const n = data.n;
  const engine = await engineFrom(values);
  const range: ImageRange = shard ? shardRange(shard, n) : { start: 0, end: n };
  const sanityM = Math.min(sanityN, n);
  if (sanityM > 0 && range.start === 0 && range.end < sanityM) throw new Error(`--sanity-n ${sanityN} needs the first ${sanityM} images in shard 0, which holds ${range.end}: use fewer shards or a smaller --sanity-n`);
  const classifier = await loadClassifier(engine, values.classifier);
  const denoiser = defenses.some((d) => d !== 'none' && d !== 'cphi') ? await loadDenoiser(engine, values.denoiser) : null;
  const guide = defenses.includes('agdm') || defenses.includes('cphi') ? await loadClassifier(engine, values.guidance) : undefined;
  if (denoiser) assertModelsFit({ denoiser, classifier, guidance: guide });
  const bars = new Map<string, ProgressBar>();
  const onProgress = (label: string, done: number, total: number) => {
    if (!bars.has(label)) bars.set(label, new ProgressBar(label, total));
    bars.get(label)!.update(Math.round(done * 10) / 10);
  };

  const report: Omit<EvalReport, 'rows'> = {
    commands: [shellLine(argv)],
    date: new Date().toISOString().slice(0, 10),
    adapter: engine.gpu.adapterName,
    dataset: values.data,
    n,
    ...(shard && { shard: { ...shard, ...range } }),
    seeds,
    scoreDraws,
    models: {
      classifier: modelRecord(classifier.name, classifierPath(values.classifier)),
      denoiser: denoiser ? modelRecord(denoiser.name, denoiserPath(values.denoiser)) : null,
      guidance: guide ? modelRecord(guide.name, classifierPath(values.guidance)) : null,
    },
    threat: { norm, eps },
    defenses: [],
  };
  const results: EvalResult[] = [];
  const save = () => {
    const full: EvalReport = { ...report, rows: reportRows(report) };
    if (values.json) writeOutput(values.json, JSON.stringify(full, null, 2) + '\n');
    if (values.md) writeOutput(values.md, renderReport([full], values.title) + '\n');
  };
  for (const name of defenses) {
    const pipeline = pipelineFor(name, classifier, denoiser, guide, values);
    const surrogate = surrogateFor(pipeline, values);
    // Everything that decides this defence's per-image results; a checkpoint of other settings is refused.
    const fingerprint = sha256Hex(JSON.stringify({ dataset: values.data, models: report.models, threat: report.threat, attacks, defense: pipeline.defense?.options ?? null, surrogate: surrogate?.defense.options ?? null }));
    const store = checkpoint ? folderStore(join(checkpoint, name), fingerprint) : undefined;
    // Labels repeat across defences; each defence's bars start afresh.
    bars.clear();
    console.error(`\n== ${name}: ${attackNames.join(', ')} on images ${range.start}–${range.end - 1} of ${n} × ${seeds.length} seed(s)${scoreDraws > 1 ? ` × ${scoreDraws} scoring draws` : ''}${surrogate ? ' (attacks differentiate a surrogate chain)' : ''}`);
    const result = await evaluate(engine, pipeline, { images: data.images, labels: data.labels, n }, { attacks, seeds, scoreDraws, batch, surrogate: surrogate ?? undefined, range, store, examples: Number(values.examples), onProgress });
    results.push(result);
    // The checks run on the first images, so only the shard holding them runs them.
    const sanity = sanityM > 0 && range.start === 0 ? await stored(store, 'sanity', () => runSanity(engine, pipeline, surrogate, classifier, data, result, attacks, sanityM, seeds[0], batch, onProgress)) : [];
    const gradientGap = surrogate && gapN > 0 && result.examples ? await stored(store, 'gradient-gap', () => measureGap(engine, pipeline as DefendedPipeline, surrogate, result, attacks, Math.min(gapN, result.examples!.n), seeds[0])) : undefined;
    const defense: DefenseReport = {
      defense: name,
      purification: pipeline.defense ? { ...pipeline.defense.options } : null,
      surrogate: surrogate ? { ...surrogate.defense.options } : null,
      clean: result.clean,
      worstCase: result.worstCase,
      attacks: result.attacks,
      ...(result.surrogateAccuracy && { surrogateAccuracy: result.surrogateAccuracy }),
      ...(gradientGap && { gradientGap }),
      flags: result.flags,
      sanity,
      seconds: result.seconds,
    };
    report.defenses.push(defense);
    printDefense(defense, seeds.length);
    save();
  }
  if (values.grid && !results.some((r) => r.examples)) {
    console.error(`no grid written to ${values.grid}: no example images were kept (--examples ${values.examples}, or every batch came from a checkpoint written without them)`);
  } else if (values.grid) {
    writeOutput(values.grid, imageGrid(await gridRows(engine, classifier, results)));
    console.error(`grid written to ${values.grid}`);
  }
  console.log(renderReport([{ ...report, rows: reportRows(report) }], values.title));
  if (values.json) console.error(`results written to ${values.json}${shard ? ` (shard ${shard.index}/${shard.count}: join the shards with purify eval merge)` : ''}`);
  engine.destroy();
}

/** A store's value under key, computed and stored on the first run (a resumed run skips the work). */
async function stored<T>(store: KeyedStore | undefined, key: string, compute: () => Promise<T>): Promise<T> {
  const found = store?.get<T>(key);
  if (found !== undefined) return found;
  const value = await compute();
  store?.put(key, value);
  return value;
}

function runSanity(engine: Engine, pipeline: Pipeline, surrogate: DefendedPipeline | null, bare: Classifier, data: { images: Float32Array; labels: ArrayLike<number> }, result: EvalResult, attacks: AttackConfig[], m: number, seed: number, batch: number, onProgress: (label: string, done: number, total: number) => void): Promise<SanityCheck[]> {
  const probe = attacks.find((a) => a.name !== 'bpda-eot' && a.name !== 'fgsm') ?? attacks[0];
  return sanityChecks(engine, pipeline, { images: data.images, labels: data.labels, n: m }, {
    attack: probe,
    n: m,
    seed,
    batch,
    accuracy: result.flags.attacks[probe.name][0].slice(0, m).filter(Boolean).length / m,
    robust: Object.fromEntries(attacks.map((a) => [a.name, result.flags.attacks[a.name][0].slice(0, m)])),
    bare,
    attacked: surrogate ?? undefined,
    onProgress: (label, done, total) => onProgress(`sanity: ${label}`, done, total),
  });
}

/** The gradient gap at the first full-gradient attack's adversarial images (the grid's examples). */
async function measureGap(engine: Engine, truth: DefendedPipeline, surrogate: DefendedPipeline, result: EvalResult, attacks: AttackConfig[], m: number, seed: number): Promise<GapReport> {
  const ex = result.examples!;
  const attack = (attacks.find((a) => a.name !== 'bpda-eot') ?? attacks[0]).name;
  const [c, h, w] = truth.classifier.imageShape;
  const samples = attacks[0].settings.eot;
  console.error(`   gradient gap: surrogate vs defence at ${m} ${attack} images, EOT ${samples}`);
  const gap = await engine.scopeAsync(() => surrogateGap(truth, surrogate, fromArray(engine, ex.attacks[attack].adversarial.slice(0, m * c * h * w), [m, c, h, w]), ex.labels.slice(0, m), { samples, seed, firstIndex: 0 }));
  return { attack, samples, ...gap };
}

function pipelineFor(name: DefenseName | 'cphi', classifier: Classifier, denoiser: Denoiser | null, guide: Classifier | undefined, values: Record<string, string | boolean | undefined>): Pipeline {
  if (name === 'none') return { classifier };
  if (name === 'cphi') return { classifier: guide! };
  const { seed: _seed, ...options } = purifyOptionsFrom({ ...values, steps: values['purify-steps'] }, name);
  const eta = values['purify-eta'] === undefined ? {} : { eta: Number(values['purify-eta']) };
  const defense: Defense = { denoiser: denoiser!, guide: name === 'agdm' ? guide : undefined, options: { ...options, ...eta } };
  return { classifier, defense };
}

/** The chain the attacks differentiate when --attack-* flags ask for one other than the defence; null otherwise. */
export function surrogateFor(p: Pipeline, values: Record<string, string | boolean | undefined>): DefendedPipeline | null {
  const flags = { tStar: values['attack-tstar'], steps: values['attack-purify-steps'], eta: values['attack-eta'] };
  const given = Object.entries(flags).filter(([, v]) => v !== undefined);
  if (!p.defense || !given.length) return null;
  for (const [k, v] of given) if (!Number.isFinite(Number(v)) || Number(v) < 0) throw new Error(`--attack-${k === 'steps' ? 'purify-steps' : k === 'tStar' ? 'tstar' : 'eta'} must be a non-negative number, got "${v}"`);
  const options = { ...p.defense.options, ...Object.fromEntries(given.map(([k, v]) => [k, Number(v)])) };
  if (flags.eta !== undefined && !((options.steps ?? options.tStar) < options.tStar)) throw new Error('--attack-eta needs a DDIM surrogate: --attack-purify-steps below t*');
  return { classifier: p.classifier, defense: { ...p.defense, options } };
}

function printDefense(d: DefenseReport, seeds: number): void {
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  console.error(`-- ${d.defense}: clean ${pct(d.clean.mean)}, worst case ${pct(d.worstCase.mean)} (${d.flags.n} images × ${seeds} seeds, ${formatTime(d.seconds)})`);
  for (const a of d.attacks) console.error(`   ${a.attack.padEnd(9)} ${pct(a.robust.mean)}  (${a.secondsPerImage.toFixed(2)} s / image)${d.surrogateAccuracy ? `; on the surrogate ${pct(d.surrogateAccuracy[a.attack].mean)}` : ''}`);
  for (const c of d.sanity) console.error(`   sanity: ${c.passed === null ? 'n/a ' : c.passed ? 'pass' : 'FAIL'} ${c.name}: ${c.detail}`);
}

/** Clean images (bare-classifier captions), then per defence its worst attack's adversarial images and their purification. */
async function gridRows(engine: Engine, classifier: Classifier, results: EvalResult[]): Promise<GridRow[]> {
  const first = results.find((r) => r.examples)?.examples;
  if (!first) return [];
  const [c, h, w] = classifier.imageShape;
  const shape = { n: first.n, c, h, w };
  const caption = (predicted: number[]) => ({ captions: predicted.map(String), correct: predicted.map((p, i) => p === first.labels[i]) });
  const bareClean = argmaxRows(await engine.scopeAsync(() => classifier.logits(fromArray(engine, first.clean, [first.n, c, h, w])).read()), classifier.classes);
  const rows: GridRow[] = [{ label: 'clean', images: first.clean, ...shape, ...caption(bareClean) }];
  for (const r of results) {
    if (!r.examples) continue;
    const worst = r.attacks.reduce((a, b) => (b.robust.mean < a.robust.mean ? b : a));
    const ex = r.examples.attacks[worst.attack];
    rows.push({ label: `${r.defense} ${worst.attack}`, images: ex.adversarial, ...shape, ...caption(ex.bare) });
    if (ex.purified) rows.push({ label: `${r.defense} purified`, images: ex.purified, ...shape, ...caption(ex.defended) });
  }
  return rows;
}
