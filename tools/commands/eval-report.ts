// The JSON an `purify eval` run writes, and its markdown rendering (one section per threat model;
// several runs, e.g. one per defence or per norm, merge into one report).
import type { AttackResult, Summary } from '../../engine/eval/evaluate.ts';
import type { SanityCheck } from '../../engine/eval/sanity.ts';
import type { PurifyOptions } from '../../engine/purify/purifier.ts';
import { formatTime } from '../progress.ts';

export interface DefenseReport {
  defense: string;
  purification: Omit<PurifyOptions, 'seed'> | null;
  clean: Summary;
  worstCase: Summary;
  attacks: AttackResult[];
  sanity: SanityCheck[];
  seconds: number;
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
}

export interface EvalReport {
  command: string;
  date: string;
  adapter: string;
  dataset: string;
  n: number;
  seeds: number[];
  models: { classifier: string; denoiser: string; guidance: string };
  threat: { norm: string; eps: number };
  defenses: DefenseReport[];
  rows: ReportRow[];
}

export function reportRows(r: Omit<EvalReport, 'rows'>): ReportRow[] {
  return r.defenses.flatMap((d) => {
    const base = { defense: d.defense, clean: d.clean.mean, cleanStd: d.clean.std, n: r.n, seeds: r.seeds };
    return [
      ...d.attacks.map((a) => ({ ...base, attack: a.attack, robust: a.robust.mean, robustStd: a.robust.std, estimator: a.estimator, loss: a.loss, eot: a.eot, settings: a.settings, secondsPerImage: a.secondsPerImage })),
      { ...base, attack: 'worst-case', robust: d.worstCase.mean, robustStd: d.worstCase.std },
    ];
  });
}

const pct = (s: { mean: number; std: number; perSeed: number[] }) => `${(100 * s.mean).toFixed(1)}${s.perSeed.length > 1 ? ` ± ${(100 * s.std).toFixed(1)}` : ''} %`;

/** Column headings: the attack and, for adaptive ones, its gradient. */
const HEADINGS: Record<string, string> = {
  'fgsm': 'FGSM (full grad.)',
  'pgd': 'PGD (full grad.)',
  'pgd-eot': 'PGD-EOT (full grad.)',
  'bpda-eot': 'BPDA-EOT',
  'apgd-ce': 'APGD-CE (full grad., rand)',
  'apgd-dlr': 'APGD-DLR (full grad., rand)',
};

const ESTIMATORS: Record<string, string> = {
  full: 'full gradient through the purifier',
  bpda: 'BPDA (identity backward through the purifier)',
  exact: 'exact classifier gradient',
};

function purificationText(p: DefenseReport['purification']): string {
  if (!p) return '-';
  const steps = p.steps ?? p.tStar;
  const sampler = steps < p.tStar ? `DDIM η=${p.eta ?? 0}, ${steps} of ${p.tStar} steps` : `DDPM, ${steps} steps`;
  const distance = p.method === 'gdmp' && p.gdmpDistance === 'ssim' ? ', SSIM' : '';
  const guidance = p.method === 'diffpure' ? '' : `${distance}, s=${p.scale ?? 0}${p.scaleSchedule === 'snr' ? ' (snr)' : ''}`;
  return `t*=${p.tStar}, ${sampler}${guidance}`;
}

function attackText(a: AttackResult): string {
  const s = a.settings;
  const step = a.attack.startsWith('apgd') ? 'APGD step schedule (2ε, halving)' : a.attack === 'fgsm' ? 'one step of ε' : `α=${(s.stepSize ?? (2.5 * s.eps) / s.steps).toPrecision(3)}`;
  const steps = a.attack === 'fgsm' ? '1 step' : `${s.steps} steps`;
  return `${a.attack}: ${s.norm} ε=${s.eps}, ${steps}, ${step}, ${a.loss.toUpperCase()} loss, ${ESTIMATORS[a.estimator] ?? a.estimator}, EOT ${a.eot}`;
}

const perImage = (seconds: number) => (seconds < 1 ? `${(1000 * seconds).toFixed(0)} ms` : `${seconds.toFixed(1)} s`);

function threatSection(runs: EvalReport[]): string {
  const { norm, eps } = runs[0].threat;
  const defenses = runs.flatMap((r) => r.defenses);
  const attackNames = [...new Set(defenses.flatMap((d) => d.attacks.map((a) => a.attack)))];
  const lines: string[] = [];
  lines.push(`## ${norm === 'linf' ? 'L∞' : 'L2'}, ε = ${eps}`, '');
  lines.push(`| defence | purification | clean | ${attackNames.map((a) => HEADINGS[a] ?? a).join(' | ')} | worst case |`);
  lines.push(`|---|---|---|${attackNames.map(() => '---|').join('')}---|`);
  for (const d of defenses) {
    const cells = attackNames.map((name) => {
      const a = d.attacks.find((x) => x.attack === name);
      return a ? pct(a.robust) : '-';
    });
    lines.push(`| ${d.defense} | ${purificationText(d.purification)} | ${pct(d.clean)} | ${cells.join(' | ')} | ${pct(d.worstCase)} |`);
  }
  lines.push('', 'Attacks (per defence; against the bare classifier every estimator is the exact gradient and EOT is 1):', '');
  for (const d of defenses) for (const a of d.attacks) lines.push(`- ${d.defense} / ${attackText(a)}; ${perImage(a.secondsPerImage)} per image`);
  lines.push('', '### Sanity checks', '');
  lines.push('| defence | check | result | detail |', '|---|---|---|---|');
  for (const d of defenses) {
    for (const c of d.sanity) lines.push(`| ${d.defense} | ${c.name} | ${c.passed === null ? 'n/a' : c.passed ? 'pass' : '**FAIL**'} | ${c.detail} |`);
  }
  if (defenses.every((d) => !d.sanity.length)) lines.push('| - | (not run: --sanity-n 0) | | |');
  lines.push('', '### Runs', '');
  for (const r of runs) {
    lines.push(`- ${r.defenses.map((d) => d.defense).join(', ')}: first ${r.n} ${r.dataset} test images, seeds ${r.seeds.join(', ')}, ${r.adapter}, ${r.date}, ${formatTime(r.defenses.reduce((t, d) => t + d.seconds, 0))}`);
    lines.push('', '  ```', `  ${r.command}`, '  ```', '');
  }
  return lines.join('\n');
}

export function renderReport(runs: EvalReport[], title: string): string {
  const groups = new Map<string, EvalReport[]>();
  for (const r of runs) {
    const key = `${r.threat.norm} ${r.threat.eps}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const m = runs[0].models;
  return [
    `# ${title}`,
    '',
    `Classifier \`${m.classifier}\`, denoiser \`${m.denoiser}\`, AGDM guidance network \`${m.guidance}\`. Accuracies are over the first N test images,`,
    'mean ± standard deviation over seeds; a seed fixes the attack\'s randomness and the defence\'s evaluation noise. Clean accuracy is the',
    "pipeline's (purified when a defence is on). Robust accuracy scores the attack's final images through the defence with noise no attack",
    'sample ever used. Worst case: an image counts only if it survived every attack of its row.',
    '',
    'Gradients: "full gradient" back-propagates through every reverse step, the ε-UNet included (gradient checkpointing), with the noise of',
    'each EOT sample held fixed. It is exact for DiffPure and GDMP (GDMP\'s guidance x′_t − x_t is linear, both in x_t and in the input).',
    "For AGDM the guidance gradient ∇G(c_φ(x_t)) and the reference c_φ(x′) are treated as constants (stop-gradient), because the engine's",
    'autograd cannot nest; the gradient still flows through the ε-model and every update, but not through the guidance network.',
    'BPDA forwards through the real purifier and passes the classifier gradient at the purified image straight back.',
    '',
    ...[...groups.values()].map(threatSection),
  ].join('\n');
}
