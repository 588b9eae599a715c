// The JSON a `purify eval` run writes, and its markdown rendering (one section per threat model;
// several runs, e.g. one per defence or per norm, render into one report). Every accuracy in both
// is a function of the per-image flags the JSON keeps (engine/eval/flags.ts), so shards joined by
// `purify eval merge` give the report an unsharded run gives.
import type { AttackName } from '../../engine/attacks/index.ts';
import { SMOOTH_BETA } from '../../engine/attacks/target.ts';
import type { AttackResult } from '../../engine/eval/evaluate.ts';
import { robustFlags, worstCaseFlags, type PerImageFlags } from '../../engine/eval/flags.ts';
import type { SanityCheck } from '../../engine/eval/sanity.ts';
import type { Shard } from '../../engine/eval/shard.ts';
import type { GradientGap } from '../../engine/eval/surrogate-gap.ts';
import { pairedMcnemar, wilsonAtMeanCount, type Interval, type Summary } from '../../engine/eval/stats.ts';
import type { PurifyOptions } from '../../engine/purify/purifier.ts';
import { formatTime } from '../progress.ts';

type Chain = Omit<PurifyOptions, 'seed' | 'onStep' | 'signal'>;

export interface DefenseReport {
  defense: string;
  /** The defence every adversarial image is scored on. */
  purification: Chain | null;
  /** The chain the attacks differentiated, where it is not the defence itself. */
  surrogate: Chain | null;
  clean: Summary;
  worstCase: Summary;
  attacks: AttackResult[];
  /** Per attack: the accuracy the surrogate chain gives the attack's images (what the attacker saw). */
  surrogateAccuracy?: Record<string, Summary>;
  /** Surrogate vs defence gradients at the first adversarial images, where a surrogate was attacked. */
  gradientGap?: GapReport;
  flags: PerImageFlags;
  sanity: SanityCheck[];
  seconds: number;
  /** Attacks `eval merge --stronger` dropped for the same attack at a larger budget, as report text. */
  superseded?: string[];
}

export interface GapReport extends GradientGap {
  /** Whose adversarial images the gradients were taken at. */
  attack: string;
  /** EOT samples per gradient estimate. */
  samples: number;
}

export interface ModelRecord {
  name: string;
  file: string;
  /** Of the weight file's bytes. */
  sha256: string;
}

export interface EvalReport {
  /** The exact command lines, one per shard (one for an unsharded run). */
  commands: string[];
  date: string;
  adapter: string;
  dataset: string;
  /** Images of the whole run: the first n test images. */
  n: number;
  /** Which part of the n images this file holds; absent for a whole run or a merged one. */
  shard?: Shard & { start: number; end: number };
  /** Set by `eval merge --images`: every number is over test images start … end − 1 only. */
  subset?: { start: number; end: number };
  seeds: number[];
  /** Draws of the defence's noise every image was scored under, per seed; absent in older files: 1. */
  scoreDraws?: number;
  models: { classifier: ModelRecord; denoiser: ModelRecord | null; guidance: ModelRecord | null };
  threat: { norm: string; eps: number };
  defenses: DefenseReport[];
  rows: ReportRow[];
}

/** One row per defence × attack (and a worst-case row per defence). */
export interface ReportRow {
  defense: string;
  attack: string;
  clean: number;
  cleanStd: number;
  robust: number;
  robustStd: number;
  n: number;
  seeds: number[];
  estimator?: string;
  loss?: string;
  eot?: number;
  settings?: AttackResult['settings'];
  secondsPerImage?: number;
  /** Wilson 95 % intervals of the n images at the seed-mean counts: the ones the tables print. */
  cleanWilson95: Interval;
  robustWilson95: Interval;
}

export function reportRows(r: Omit<EvalReport, 'rows'>): ReportRow[] {
  return r.defenses.flatMap((d) => {
    const n = d.flags.n;
    const base = { defense: d.defense, clean: d.clean.mean, cleanStd: d.clean.std, cleanWilson95: wilsonAtMeanCount(d.clean.mean * n, n), n, seeds: r.seeds };
    return [
      ...d.attacks.map((a) => ({ ...base, attack: a.attack, robust: a.robust.mean, robustStd: a.robust.std, robustWilson95: wilsonAtMeanCount(a.robust.mean * n, n), estimator: a.estimator, loss: a.loss, eot: a.eot, settings: a.settings, secondsPerImage: a.secondsPerImage })),
      { ...base, attack: 'worst-case', robust: d.worstCase.mean, robustStd: d.worstCase.std, robustWilson95: wilsonAtMeanCount(d.worstCase.mean * n, n) },
    ];
  });
}

export const percent = (v: number) => (100 * v).toFixed(1);

/** Mean (± std over seeds) and the Wilson 95 % interval of the n images at the seed-mean count. */
function cell(s: Summary, n: number): string {
  const ci = wilsonAtMeanCount(s.mean * n, n);
  return `${percent(s.mean)}${s.perSeed.length > 1 ? ` ± ${percent(s.std)}` : ''} % [${percent(ci.low)}, ${percent(ci.high)}]`;
}

/** Column headings: the attack and, for adaptive ones, its gradient (one for every attack). */
const HEADINGS: Record<AttackName, string> = {
  'fgsm': 'FGSM (full grad.)',
  'pgd': 'PGD (full grad.)',
  'pgd-eot': 'PGD-EOT (full grad.)',
  'bpda-eot': 'BPDA-EOT',
  'apgd-ce': 'APGD-CE (full grad., rand)',
  'apgd-dlr': 'APGD-DLR (full grad., rand)',
  'apgd-hijack': 'APGD ŷ-hijack (full grad., rand)',
  'apgd-hijack-t': 'APGD ŷ-hijack, targeted (full grad., rand)',
  'apgd-smooth': 'APGD-CE, smooth BPDA (rand)',
  'apgd-known': 'APGD-CE, known noise (full grad.)',
  'square': 'Square (black box)',
};
const heading = (column: string) => HEADINGS[column as AttackName] ?? column;

const ESTIMATORS: Record<string, string> = {
  full: 'full gradient through the purifier',
  bpda: 'BPDA (identity backward through the purifier)',
  smooth: `smooth BPDA (full gradient through the purifier with c_φ's ReLUs as silu(${SMOOTH_BETA}x)/${SMOOTH_BETA} and max pools as (1/${SMOOTH_BETA})·log Σ exp(${SMOOTH_BETA}x))`,
  exact: 'exact classifier gradient',
};

function chainText(p: Chain | null): string {
  if (!p) return '-';
  const steps = p.steps ?? p.tStar;
  const sampler = steps < p.tStar ? `DDIM η=${p.eta ?? 0}, ${steps} of ${p.tStar} steps` : `DDPM, ${steps} steps`;
  const distance = p.method === 'gdmp' && p.gdmpDistance === 'ssim' ? ', SSIM' : '';
  const guidance = p.method === 'diffpure' ? '' : `${distance}, s=${p.scale ?? 0}${p.scaleSchedule === 'snr' ? ' (snr)' : ''}`;
  return `t*=${p.tStar}, ${sampler}${guidance}`;
}

function attackText(a: AttackResult): string {
  const s = a.settings;
  if (a.attack === 'square') return `square: ${s.norm} ε=${s.eps}, ${s.steps} logit queries per image (black box, a fresh noise draw per query)`;
  const step = a.attack.startsWith('apgd') ? 'APGD step schedule (2ε, halving)' : a.attack === 'fgsm' ? 'one step of ε' : `α=${(s.stepSize ?? (2.5 * s.eps) / s.steps).toPrecision(3)}`;
  const steps = a.attack === 'fgsm' ? 1 : s.steps;
  return `${a.attack}: ${s.norm} ε=${s.eps}, ${steps} step${steps === 1 ? '' : 's'}, ${step}, ${/^[a-z]+$/.test(a.loss) ? a.loss.toUpperCase() : a.loss} loss, ${ESTIMATORS[a.estimator] ?? a.estimator}, EOT ${a.eot} (${steps * a.eot} gradient${steps * a.eot === 1 ? '' : 's'} per image)`;
}

const perImage = (seconds: number) => (seconds < 1 ? `${(1000 * seconds).toFixed(0)} ms` : `${seconds.toFixed(1)} s`);

/** Per seed [image] flags of one table column: clean, robust to an attack, or the worst case. */
function columnFlags(d: DefenseReport, column: string): boolean[][] | null {
  if (column === 'clean') return d.flags.clean;
  if (column === 'worst case') return worstCaseFlags(d.flags);
  return d.flags.attacks[column] ? robustFlags(d.flags, column) : null;
}

/** What each row of a run's flags is: seed-major, one row per scoring draw. */
export function rowKeys(r: Pick<EvalReport, 'seeds' | 'scoreDraws'>): string[] {
  return r.seeds.flatMap((seed) => Array.from({ length: r.scoreDraws ?? 1 }, (_, draw) => (draw ? `seed ${seed} draw ${draw}` : `seed ${seed}`)));
}

/**
 * Exact McNemar of agdm against every other defence, per column and row, on the images and the rows
 * (seed, scoring draw) both measured: a run with one draw pairs with another run's first draw.
 */
function pairedSection(defenses: DefenseReport[], attackNames: string[], rowsOf: Map<DefenseReport, string[]>): string[] {
  const agdm = defenses.find((d) => d.defense === 'agdm');
  const others = defenses.filter((d) => d !== agdm);
  if (!agdm || !others.length) return [];
  const lines = ['### agdm against every other row (paired, exact McNemar)', ''];
  lines.push('Per column, over the same images and seeds: images only agdm got right / only the other row got right, and the two-sided exact', 'McNemar p (binomial on the discordant images). With several seeds or scoring draws, one entry per (seed, draw) both rows have.', '');
  lines.push('| agdm vs | column | agdm only / other only | p |', '|---|---|---|---|');
  const agdmRows = rowsOf.get(agdm)!;
  for (const other of others) {
    const otherRows = rowsOf.get(other)!;
    const shared = agdmRows.filter((k) => otherRows.includes(k));
    const paired = other.flags.first === agdm.flags.first && other.flags.n === agdm.flags.n && shared.length > 0;
    const on = shared.length < Math.max(agdmRows.length, otherRows.length) ? ` (${shared.join(', ')})` : '';
    for (const column of ['clean', ...attackNames, 'worst case']) {
      const a = columnFlags(agdm, column);
      const b = columnFlags(other, column);
      if (!a || !b) continue;
      if (!paired) {
        lines.push(`| ${other.defense} | ${column} | - | not paired: other images or seeds |`);
        continue;
      }
      const tests = shared.map((k) => pairedMcnemar(a[agdmRows.indexOf(k)], b[otherRows.indexOf(k)]));
      lines.push(`| ${other.defense} | ${heading(column)}${on} | ${tests.map((t) => `${t.onlyFirst} / ${t.onlySecond}`).join(', ')} | ${tests.map((t) => t.p.toPrecision(3)).join(', ')} |`);
    }
  }
  return [...lines, ''];
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** What the attacker's surrogate chain saw vs what the defence did, where a surrogate was attacked. */
function gapSection(defenses: DefenseReport[]): string[] {
  const gaps = defenses.filter((d) => d.surrogateAccuracy);
  if (!gaps.length) return [];
  const lines = ['', '### Surrogate gap', '', "Accuracy on the same adversarial images as the attacker's surrogate chain scores them and as the defence does (not ANDed with clean):", ''];
  lines.push('| defence | attack | on the surrogate | on the defence |', '|---|---|---|---|');
  for (const d of gaps) {
    for (const a of d.attacks) {
      const raw = mean(d.flags.attacks[a.attack].map((f) => f.filter(Boolean).length / f.length));
      lines.push(`| ${d.defense} | ${a.attack} | ${percent(d.surrogateAccuracy![a.attack].mean)} % | ${percent(raw)} % |`);
    }
  }
  const measured = gaps.filter((d) => d.gradientGap);
  if (measured.length) {
    lines.push('', 'Gradient gap at the first adversarial images (per image, then the mean): cosine between the surrogate\'s and the defence\'s', 'EOT-averaged full gradients, the cosine between two independent EOT estimates of the defence\'s own gradient (the ceiling), and the norm ratio.', '');
    lines.push('| defence | images (attack, EOT) | cos(surrogate, defence) | ceiling | ‖surrogate‖ / ‖defence‖ |', '|---|---|---|---|---|');
    for (const d of measured) {
      const g = d.gradientGap!;
      lines.push(`| ${d.defense} | ${g.cosine.length} (${g.attack}, ${g.samples}) | ${mean(g.cosine).toFixed(3)} | ${mean(g.ceiling).toFixed(3)} | ${mean(g.normRatio).toFixed(3)} |`);
    }
  }
  return lines;
}

function threatSection(runs: EvalReport[]): string {
  const { norm, eps } = runs[0].threat;
  const defenses = runs.flatMap((r) => r.defenses);
  const attackNames = [...new Set(defenses.flatMap((d) => d.attacks.map((a) => a.attack)))];
  const lines: string[] = [];
  lines.push(`## ${norm === 'linf' ? 'L∞' : 'L2'}, ε = ${eps}`, '');
  lines.push(`| defence | purification (scored) | clean | ${attackNames.map(heading).join(' | ')} | worst case |`);
  lines.push(`|---|---|---|${attackNames.map(() => '---|').join('')}---|`);
  for (const d of defenses) {
    const cells = attackNames.map((name) => {
      const a = d.attacks.find((x) => x.attack === name);
      return a ? cell(a.robust, d.flags.n) : '-';
    });
    lines.push(`| ${d.defense} | ${chainText(d.purification)} | ${cell(d.clean, d.flags.n)} | ${cells.join(' | ')} | ${cell(d.worstCase, d.flags.n)} |`);
  }
  lines.push('');
  const rowsOf = new Map(runs.flatMap((r) => r.defenses.map((d) => [d, rowKeys(r)] as const)));
  lines.push(...pairedSection(defenses, attackNames, rowsOf));
  lines.push('Attacks (per defence; against the bare classifier every estimator is the exact gradient and EOT is 1):', '');
  for (const d of defenses) {
    if (d.surrogate) lines.push(`- ${d.defense}: the attacks differentiate a surrogate chain, ${chainText(d.surrogate)}; their images are scored on the defence above`);
    for (const a of d.attacks) lines.push(`- ${d.defense} / ${attackText(a)}; ${perImage(a.secondsPerImage)} per image`);
    for (const text of d.superseded ?? []) lines.push(`- ${d.defense} / ${text} (eval merge --stronger)`);
  }
  lines.push(...gapSection(defenses));
  lines.push('', '### Sanity checks', '');
  lines.push('| defence | check | result | detail |', '|---|---|---|---|');
  for (const d of defenses) {
    for (const c of d.sanity) lines.push(`| ${d.defense} | ${c.name} | ${c.passed === null ? 'n/a' : c.passed ? 'pass' : '**FAIL**'} | ${c.detail} |`);
  }
  if (defenses.every((d) => !d.sanity.length)) lines.push('| - | (not run: --sanity-n 0) | | |');
  lines.push('', '### Runs', '');
  for (const r of runs) {
    const images = r.subset
      ? `${r.dataset} test images ${r.subset.start}–${r.subset.end - 1} only, of a run over the first ${r.n} (eval merge --images: the others are left out of every number)`
      : r.shard && r.shard.end - r.shard.start < r.n ? `${r.dataset} test images ${r.shard.start}–${r.shard.end - 1} of a run over the first ${r.n} (unfinished: the other shards are not in this report)` : `first ${r.n} ${r.dataset} test images`;
    lines.push(`- ${r.defenses.map((d) => d.defense).join(', ')}: ${images}, seeds ${r.seeds.join(', ')}${(r.scoreDraws ?? 1) > 1 ? ` × ${r.scoreDraws} scoring draws` : ''}, ${r.adapter}, ${r.date}, ${formatTime(r.defenses.reduce((t, d) => t + d.seconds, 0))}${r.commands.length > 1 ? `, ${r.commands.length} shards` : ''}`);
    lines.push('', '  ```', ...r.commands.map((c) => `  ${c}`), '  ```', '');
  }
  return lines.join('\n');
}

const modelText = (m: ModelRecord) => `\`${m.name}\` (sha256 ${m.sha256.slice(0, 12)})`;

/** Every distinct model the runs used in `role` (runs side by side need not all use one: a bare classifier has no denoiser). */
function modelsText(runs: EvalReport[], role: keyof EvalReport['models']): string {
  const distinct = new Map<string, ModelRecord>();
  for (const r of runs) {
    const m = r.models[role];
    if (m) distinct.set(m.sha256, m);
  }
  return distinct.size ? [...distinct.values()].map(modelText).join(' and ') : '-';
}

export function renderReport(runs: EvalReport[], title: string): string {
  const groups = new Map<string, EvalReport[]>();
  for (const r of runs) {
    const key = `${r.threat.norm} ${r.threat.eps}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [
    `# ${title}`,
    '',
    `Classifier ${modelsText(runs, 'classifier')}, denoiser ${modelsText(runs, 'denoiser')}, AGDM guidance network ${modelsText(runs, 'guidance')}; full hashes in the JSON.`,
    'Accuracies are over the first N test images: mean ± standard deviation over seeds and scoring draws, then the Wilson 95 % interval of',
    'N images at that accuracy (the images are the sampling unit; a seed fixes the attack\'s randomness and the defence\'s evaluation noise,',
    'a scoring draw is one more draw of the defence\'s noise for the same adversarial images). Clean',
    "accuracy is the pipeline's (purified when a defence is on). Robust accuracy scores the attack's final images through the defence",
    'named in the row, with noise no attack sample ever used, and counts an image only if its clean version is also classified correctly',
    "(AutoAttack's convention); the worst case counts an image only if it is clean correct and survived every attack of its row.",
    '',
    'Gradients: "full gradient" back-propagates through every reverse step, the ε-UNet included (gradient checkpointing), with the noise of',
    'each EOT sample held fixed. It is exact for every method: for AGDM it includes the guidance\'s own dependence on x_t (a Hessian-vector',
    'product of the guidance objective, by nested autograd) and on the input through c_φ(x′) (engine/attacks/full-gradient.ts). The',
    'ŷ-hijack attacks add c_φ\'s own loss at the input, to move AGDM\'s guidance target ŷ = argmax c_φ(x′) (engine/attacks/hijack.ts).',
    'cphi is AGDM\'s guidance network c_φ used as the classifier, without purification.',
    'BPDA forwards through the real purifier and passes the classifier gradient at the purified image straight back.',
    '',
    ...[...groups.values()].map(threatSection),
  ].join('\n');
}
