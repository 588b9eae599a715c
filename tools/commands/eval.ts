import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { ATTACK_NAMES, isAttackName, type AttackName } from '../../engine/attacks/index.ts';
import type { Defense, DefenseName, Pipeline } from '../../engine/attacks/pipeline.ts';
import type { Norm } from '../../engine/attacks/project.ts';
import { loadDataset, type DatasetName } from '../../engine/data/datasets.ts';
import { imageGrid, type GridRow } from '../../engine/data/grid.ts';
import { evaluate, type AttackConfig, type EvalResult } from '../../engine/eval/evaluate.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { sanityChecks } from '../../engine/eval/sanity.ts';
import { loadClassifier, loadDenoiser } from '../../engine/models/catalog.ts';
import { assertModelsFit } from '../../engine/purify/session.ts';
import type { Classifier, Denoiser } from '../../engine/models/types.ts';
import { fingerprint } from './fingerprint.ts';
import { fromArray } from '../../engine/ops/index.ts';
import type { Engine } from '../../engine/runtime.ts';
import { ProgressBar, formatTime } from '../progress.ts';
import { reportRows, renderReport, type DefenseReport, type EvalReport } from './eval-report.ts';
import { deviceOptions, engineFrom } from './options.ts';
import { purifyOptionsFrom } from './purify-options.ts';

const DEFENSES = ['none', 'diffpure', 'gdmp', 'agdm'] as const;

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

function write(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

export async function run(argv: string[]): Promise<void> {
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
      'step-size': { type: 'string' },
      eot: { type: 'string', default: '4' },
      n: { type: 'string', default: '64' },
      seeds: { type: 'string', default: '1' },
      seed: { type: 'string', default: '0' },
      batch: { type: 'string', default: '64' },
      tstar: { type: 'string' },
      'purify-steps': { type: 'string' },
      scale: { type: 'string' },
      'scale-schedule': { type: 'string', default: 'constant' },
      'class-weight': { type: 'string' },
      'latent-weight': { type: 'string' },
      latent: { type: 'string' },
      'guide-input': { type: 'string' },
      'gdmp-distance': { type: 'string' },
      'sanity-n': { type: 'string', default: '16' },
      examples: { type: 'string', default: '8' },
      json: { type: 'string' },
      md: { type: 'string' },
      grid: { type: 'string' },
      title: { type: 'string', default: 'MNIST robustness under adaptive attacks' },
      merge: { type: 'string' },
      notes: { type: 'string' },
    },
  });
  if (values.merge) {
    const runs = values.merge.split(',').flatMap((f) => JSON.parse(readFileSync(f, 'utf8')) as EvalReport | EvalReport[]);
    if (values.json) write(values.json, JSON.stringify(runs, null, 2) + '\n');
    const md = renderReport(runs, values.title) + (values.notes ? `\n\n${readFileSync(values.notes, 'utf8').trim()}` : '');
    if (values.md) write(values.md, md + '\n');
    else console.log(md);
    return;
  }
  const norm = values.norm as Norm;
  if (norm !== 'linf' && norm !== 'l2') throw new Error(`--norm must be linf or l2, got "${values.norm}"`);
  const eps = positive(values.eps ?? (norm === 'linf' ? '0.3' : '2'), 'eps', false);
  const defenses = list(values.defense, DEFENSES, 'defence');
  const attackNames = list(values.attack, ATTACK_NAMES, 'attack').filter(isAttackName) as AttackName[];
  const steps = positive(values.steps, 'steps');
  const settings = { norm, eps, steps, eot: positive(values.eot, 'eot'), stepSize: values['step-size'] ? positive(values['step-size'], 'step-size', false) : undefined };
  const attacks: AttackConfig[] = attackNames.map((name) => ({ name, settings }));
  const seedCount = positive(values.seeds, 'seeds');
  const firstSeed = Number(values.seed);
  const seeds = Array.from({ length: seedCount }, (_, i) => firstSeed + i);
  const batch = positive(values.batch, 'batch');
  const sanityN = Number(values['sanity-n']);

  const engine = await engineFrom(values);
  const data = loadDataset(values.data as DatasetName, 'test', { limit: positive(values.n, 'n') });
  const n = data.n;
  const classifier = await loadClassifier(engine, values.classifier);
  const denoiser = defenses.some((d) => d !== 'none') ? await loadDenoiser(engine, values.denoiser) : null;
  const guide = defenses.includes('agdm') ? await loadClassifier(engine, values.guidance) : undefined;
  if (denoiser) assertModelsFit({ denoiser, classifier, guidance: guide });
  const bars = new Map<string, ProgressBar>();
  const onProgress = (label: string, done: number, total: number) => {
    if (!bars.has(label)) bars.set(label, new ProgressBar(label, total));
    bars.get(label)!.update(Math.round(done * 10) / 10);
  };

  const report: Omit<EvalReport, 'rows'> = {
    command: `purify eval ${argv.join(' ')}`,
    date: new Date().toISOString().slice(0, 10),
    adapter: engine.gpu.adapterName,
    dataset: values.data,
    n,
    seeds,
    models: {
      classifier: `${classifier.name} (${await fingerprint(classifier.params)})`,
      denoiser: denoiser ? `${denoiser.name} (${await fingerprint(denoiser.params)})` : values.denoiser,
      guidance: guide ? `${guide.name} (${await fingerprint(guide.params)})` : values.guidance,
    },
    threat: { norm, eps },
    defenses: [],
  };
  const results: EvalResult[] = [];
  const save = () => {
    const full: EvalReport = { ...report, rows: reportRows(report) };
    if (values.json) write(values.json, JSON.stringify(full, null, 2) + '\n');
    if (values.md) write(values.md, renderReport([full], values.title) + '\n');
  };
  for (const name of defenses) {
    const pipeline = pipelineFor(name, classifier, denoiser, guide, values);
    // Labels repeat across defences; each defence's bars start afresh.
    bars.clear();
    console.error(`\n== ${name}: ${attackNames.join(', ')} on ${n} images × ${seeds.length} seed(s)`);
    const result = await evaluate(engine, pipeline, { images: data.images, labels: data.labels, n }, { attacks, seeds, batch, examples: Number(values.examples), onProgress });
    results.push(result);
    const probe = attacks.find((a) => a.name !== 'bpda-eot' && a.name !== 'fgsm') ?? attacks[0];
    const m = Math.min(sanityN, n);
    const sanity =
      m > 0
        ? await sanityChecks(engine, pipeline, { images: data.images, labels: data.labels, n: m }, {
            attack: probe,
            n: m,
            seed: seeds[0],
            batch,
            accuracy: result.correct.attacks[probe.name][0].slice(0, m).filter(Boolean).length / m,
            onProgress: (label, done, total) => onProgress(`sanity: ${label}`, done, total),
          })
        : [];
    const defense: DefenseReport = { defense: name, purification: pipeline.defense ? { ...pipeline.defense.options } : null, clean: result.clean, worstCase: result.worstCase, attacks: result.attacks, sanity, seconds: result.seconds };
    report.defenses.push(defense);
    printDefense(defense, n, seeds.length);
    save();
  }
  if (values.grid) {
    write(values.grid, imageGrid(await gridRows(engine, classifier, results)));
    console.error(`grid written to ${values.grid}`);
  }
  console.log(renderReport([{ ...report, rows: reportRows(report) }], values.title));
  if (values.json) console.error(`results written to ${values.json}`);
  engine.destroy();
}

function pipelineFor(name: DefenseName, classifier: Classifier, denoiser: Denoiser | null, guide: Classifier | undefined, values: Record<string, string | boolean | undefined>): Pipeline {
  if (name === 'none') return { classifier };
  const { seed: _seed, ...options } = purifyOptionsFrom({ ...values, steps: values['purify-steps'] }, name);
  const defense: Defense = { denoiser: denoiser!, guide: name === 'agdm' ? guide : undefined, options };
  return { classifier, defense };
}

function printDefense(d: DefenseReport, n: number, seeds: number): void {
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  console.error(`-- ${d.defense}: clean ${pct(d.clean.mean)}, worst case ${pct(d.worstCase.mean)} (${n} images × ${seeds} seeds, ${formatTime(d.seconds)})`);
  for (const a of d.attacks) console.error(`   ${a.attack.padEnd(9)} ${pct(a.robust.mean)}  (${a.secondsPerImage.toFixed(2)} s / image)`);
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
