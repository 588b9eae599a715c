// `purify eval merge FILE.json...`: joins the shards of a run (--shard K/N, each with its image
// block's flags) into the report the unsharded run writes, and renders several runs (other
// defences, norms) side by side. Shards must come from one run — the same data, weights, seeds,
// threat, defences and attacks — and cover every image exactly once; anything else is refused.
// A defence attacked in several runs (a later run adding an attack) on the same images, seeds,
// weights and chains becomes one row: its attacks side by side, the worst case over all of them.
// --images FIRST-LAST reports a subset of the images (e.g. leaving out those a default was tuned on).
// --stronger: where two such runs ran the same attack at different budgets (a convergence check
// rerunning it with more EOT samples), the larger budget's column stays and the report says which
// budget it superseded; without it the collision is refused.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { joinFlags, sliceFlags, summarizeFlags, type PerImageFlags } from '../../engine/eval/flags.ts';
import type { AttackResult } from '../../engine/eval/evaluate.ts';
import { percent, reportRows, renderReport, type DefenseReport, type EvalReport } from './eval-report.ts';
import { writeOutput } from './output-file.ts';

/**
 * What every file of one evaluation shares: data, seeds, threat and weights — the weights by name
 * and hash, not path, as they are the same wherever a machine keeps them.
 */
function setting(r: EvalReport) {
  const models = Object.fromEntries(Object.entries(r.models).map(([role, m]) => [role, m && { name: m.name, sha256: m.sha256 }]));
  return { dataset: r.dataset, n: r.n, seeds: r.seeds, scoreDraws: r.scoreDraws ?? 1, models, threat: r.threat };
}

/** What makes two files shards of one run: everything but the shard, timing, machine and command. */
function runIdentity(r: EvalReport): string {
  const defenses = r.defenses.map((d) => ({ defense: d.defense, purification: d.purification, surrogate: d.surrogate, attacks: d.attacks.map((a) => ({ ...a, robust: undefined, secondsPerImage: undefined })) }));
  return JSON.stringify({ ...setting(r), defenses });
}

/** What makes one defence's rows in two runs one row: everything but the attacks. */
function defenseIdentity(r: EvalReport, d: DefenseReport): string {
  return JSON.stringify({ ...setting(r), images: [d.flags.first, d.flags.n], defense: d.defense, purification: d.purification, surrogate: d.surrogate });
}

type Unsummarized = Omit<DefenseReport, 'clean' | 'worstCase' | 'surrogateAccuracy' | 'flags'>;

/** A defence's report for these per-image flags: every accuracy recomputed from them. */
function summarized(d: Unsummarized, flags: PerImageFlags): DefenseReport {
  const s = summarizeFlags(flags);
  return {
    ...d,
    clean: s.clean,
    worstCase: s.worstCase,
    attacks: d.attacks.map((a) => ({ ...a, robust: s.robust[a.attack] })),
    ...(s.surrogate && { surrogateAccuracy: s.surrogate }),
    flags,
  };
}

/** Gradients (or queries) per image and seed: the budget --stronger compares. */
const budget = (a: AttackResult) => a.settings.steps * a.eot;
const budgetText = (a: AttackResult) => (a.attack === 'square' ? `${a.settings.steps} queries` : `${a.settings.steps} steps × EOT ${a.eot}`);

/** d without attack `name`: its column and its per-image flags (joinAttacks recomputes every summary from the flags). */
function withoutAttack(d: DefenseReport, name: string): DefenseReport {
  const drop = <T>(r: Record<string, T> | undefined) => r && Object.fromEntries(Object.entries(r).filter(([k]) => k !== name));
  return { ...d, attacks: d.attacks.filter((x) => x.attack !== name), flags: { ...d.flags, attacks: drop(d.flags.attacks)!, surrogate: drop(d.flags.surrogate) } };
}

/**
 * One defence's results from two runs with different attacks, as one run of all the attacks. An
 * attack both ran is refused, unless `stronger`: then the larger budget's results stay.
 */
function joinAttacks(first: DefenseReport, second: DefenseReport, stronger: boolean): DefenseReport {
  let [a, b] = [first, second];
  const superseded = [...(a.superseded ?? []), ...(b.superseded ?? [])];
  for (const x of b.attacks.filter((x) => a.attacks.some((y) => y.attack === x.attack))) {
    const y = a.attacks.find((y) => y.attack === x.attack)!;
    if (!stronger) throw new RangeError(`${a.defense}: attack ${x.attack} was run in two runs of the same defence on the same images; merge one of them (or --stronger keeps the larger budget)`);
    if (budget(x) === budget(y)) throw new RangeError(`${a.defense}: attack ${x.attack} was run twice at the same budget (${budgetText(x)}); merge one of them`);
    const [kept, weaker] = budget(x) > budget(y) ? [x, y] : [y, x];
    superseded.push(`${x.attack} at ${budgetText(weaker)} (${percent(weaker.robust.mean)} %), superseded by ${budgetText(kept)}`);
    if (kept === x) a = withoutAttack(a, x.attack);
    else b = withoutAttack(b, x.attack);
  }
  if (JSON.stringify(a.flags.clean) !== JSON.stringify(b.flags.clean)) {
    throw new RangeError(`${a.defense}: two runs classify the same clean images differently, so their per-image results cannot be joined (were they run from different code?)`);
  }
  const surrogate = a.flags.surrogate || b.flags.surrogate ? { ...a.flags.surrogate, ...b.flags.surrogate } : undefined;
  const flags = { ...a.flags, attacks: { ...a.flags.attacks, ...b.flags.attacks }, ...(surrogate && { surrogate }) };
  const gradientGap = a.gradientGap ?? b.gradientGap;
  return summarized({
    defense: a.defense,
    purification: a.purification,
    surrogate: a.surrogate,
    attacks: [...a.attacks, ...b.attacks],
    ...(gradientGap && { gradientGap }),
    sanity: [...a.sanity, ...b.sanity],
    seconds: a.seconds + b.seconds,
    ...(superseded.length && { superseded }),
  }, flags);
}

/**
 * Joins each defence that several runs attacked (same images, seeds, weights, threat and chains) into
 * the first run that has it; a run left without defences is dropped, its command kept by the run that
 * took its rows.
 */
export function joinAttackRuns(runs: EvalReport[], stronger = false): EvalReport[] {
  const hosts = new Map<string, { run: EvalReport; index: number }>();
  const kept: EvalReport[] = [];
  for (const r of runs) {
    const run: EvalReport = { ...r, defenses: [] };
    for (const d of r.defenses) {
      const key = defenseIdentity(r, d);
      const host = hosts.get(key);
      if (!host) {
        hosts.set(key, { run, index: run.defenses.length });
        run.defenses.push(d);
        continue;
      }
      host.run.defenses[host.index] = joinAttacks(host.run.defenses[host.index], d, stronger);
      host.run.commands = [...new Set([...host.run.commands, ...r.commands])];
      host.run.date = [host.run.date, r.date].sort().at(-1)!;
    }
    if (run.defenses.length) kept.push(run);
  }
  return kept.map((r) => ({ ...r, rows: reportRows(r) }));
}

function joinDefense(parts: DefenseReport[], n: number, first = 0): DefenseReport {
  const flags = joinFlags(parts.map((d) => d.flags));
  if (flags.first !== first || flags.n !== n) throw new RangeError(`${parts[0].defense}: the shards cover images ${flags.first}–${flags.first + flags.n - 1}, not ${first}–${first + n - 1}`);
  const [head] = parts;
  // Attack time per image: each shard's total over all images.
  const secondsPerImage = (i: number) => parts.reduce((t, d) => t + d.attacks[i].secondsPerImage * d.flags.n, 0) / n;
  const firstPart = parts.find((d) => d.flags.first === first)!;
  return summarized({
    defense: head.defense,
    purification: head.purification,
    surrogate: head.surrogate,
    attacks: head.attacks.map((a, i) => ({ ...a, secondsPerImage: secondsPerImage(i) })),
    // The sanity checks and the gradient gap run on the first images: shard 0 has them.
    ...(firstPart.gradientGap && { gradientGap: firstPart.gradientGap }),
    sanity: firstPart.sanity,
    seconds: parts.reduce((t, d) => t + d.seconds, 0),
  }, flags);
}

/**
 * Joins one run's shards (a whole run passes through unchanged). `partial`: a run still in progress,
 * whose shards so far must be consecutive (K…K+m−1 of N); the report then covers their images only
 * and says so, and every number in it is over those images.
 */
export function joinShards(shards: EvalReport[], partial = false): EvalReport {
  const whole = shards.filter((r) => !r.shard);
  if (whole.length) {
    if (shards.length > 1) throw new RangeError('a whole (unsharded) run was given together with other files of the same run');
    return whole[0];
  }
  const count = shards[0].shard!.count;
  const indices = shards.map((r) => r.shard!.index).sort((a, b) => a - b);
  const consecutive = indices.every((k, i) => k === indices[0] + i);
  if (shards.some((r) => r.shard!.count !== count) || !consecutive || (!partial && indices.length !== count)) {
    throw new RangeError(`shards ${indices.map((i) => `${i}/${count}`).join(', ')} given: a run of ${count} shards needs each of 0/${count} … ${count - 1}/${count} once${partial ? ' (--partial: consecutive shards, each once)' : ' (--partial reports the consecutive shards finished so far)'}`);
  }
  if (indices.length < count) return joinPartial([...shards].sort((a, b) => a.shard!.index - b.shard!.index));
  const [head] = shards;
  const { shard: _shard, ...rest } = head;
  const report = {
    ...rest,
    commands: [...shards].sort((a, b) => a.shard!.index - b.shard!.index).flatMap((r) => r.commands),
    date: shards.map((r) => r.date).sort().at(-1)!,
    adapter: [...new Set(shards.map((r) => r.adapter))].join(', '),
    defenses: head.defenses.map((d, i) => joinDefense(shards.map((r) => r.defenses[i]), head.n)),
  };
  return { ...report, rows: reportRows(report) };
}

/** Consecutive shards of an unfinished run: one report over their images, marked as a shard range. */
function joinPartial(shards: EvalReport[]): EvalReport {
  const [head] = shards;
  const start = head.shard!.start;
  const end = shards.at(-1)!.shard!.end;
  if (shards.length === 1) return head;
  const { shard: _shard, ...rest } = head;
  const report = {
    ...rest,
    shard: { ...head.shard!, end },
    commands: shards.flatMap((r) => r.commands),
    date: shards.map((r) => r.date).sort().at(-1)!,
    adapter: [...new Set(shards.map((r) => r.adapter))].join(', '),
    defenses: head.defenses.map((d, i) => joinDefense(shards.map((r) => r.defenses[i]), end - start, start)),
  };
  return { ...report, rows: reportRows(report) };
}

/**
 * Groups files by run and joins each group's shards, in the order the runs first appear, then joins
 * the rows of a defence that several runs attacked.
 */
export function mergeReports(reports: EvalReport[], partial = false, stronger = false): EvalReport[] {
  const groups = new Map<string, EvalReport[]>();
  for (const r of reports) groups.set(runIdentity(r), [...(groups.get(runIdentity(r)) ?? []), r]);
  return joinAttackRuns([...groups.values()].map((g) => joinShards(g, partial)), stronger);
}

/**
 * Every run restricted to images first … last: each defence's accuracies, intervals and paired tests
 * recomputed from those images' flags alone. The sanity checks and the gradient gap stay as measured
 * (on the run's first images); the report names the subset.
 */
export function restrictImages(runs: EvalReport[], first: number, last: number): EvalReport[] {
  return runs.map((r) => {
    const report = { ...r, subset: { start: first, end: last + 1 }, defenses: r.defenses.map((d) => summarized(d, sliceFlags(d.flags, first, last))) };
    return { ...report, rows: reportRows(report) };
  });
}

function parseImageRange(text: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(text);
  if (!m || Number(m[1]) > Number(m[2])) throw new Error(`--images must be FIRST-LAST (test image indices, inclusive), e.g. 32-127; got "${text}"`);
  return [Number(m[1]), Number(m[2])];
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'string' },
      md: { type: 'string' },
      title: { type: 'string', default: 'MNIST robustness under adaptive attacks' },
      notes: { type: 'string' },
      partial: { type: 'boolean', default: false },
      images: { type: 'string' },
      stronger: { type: 'boolean', default: false },
    },
  });
  if (!positionals.length) throw new Error('usage: purify eval merge FILE.json... [--json OUT.json] [--md OUT.md] [--title T] [--notes N.md] [--partial] [--images FIRST-LAST] [--stronger]');
  const range = values.images ? parseImageRange(values.images) : null;
  const merged = mergeReports(positionals.flatMap((f) => JSON.parse(readFileSync(f, 'utf8')) as EvalReport | EvalReport[]), values.partial, values.stronger);
  const runs = range ? restrictImages(merged, ...range) : merged;
  if (values.json) writeOutput(values.json, JSON.stringify(runs.length === 1 ? runs[0] : runs, null, 2) + '\n');
  const md = renderReport(runs, values.title) + (values.notes ? `\n\n${readFileSync(values.notes, 'utf8').trim()}` : '');
  if (values.md) writeOutput(values.md, md + '\n');
  else console.log(md);
}
