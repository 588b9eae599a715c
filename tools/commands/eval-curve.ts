// `purify eval curve FILE.json...`: an attack's convergence in its budget. Each file is one eval run
// of the same defence on the same images at another (steps, EOT); the curve puts their robust
// accuracies side by side and marks each budget whose next larger one (more steps at the same EOT,
// or more EOT samples at the same steps) lowers accuracy by more than max(1 image, 1 %) — the sanity
// check's rule — as "not converged": a number at that budget is an upper bound at best. The chain the
// attack differentiates is a third axis: runs through a surrogate (--attack-purify-steps) and through
// the defence's own chain form separate curves, and a budget run on both is compared the same way
// (a more faithful chain that lowers accuracy by more than the rule says the surrogate held the attack back).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { robustFlags } from '../../engine/eval/flags.ts';
import { slack } from '../../engine/eval/sanity.ts';
import { pairedMcnemar, wilsonAtMeanCount, type Interval, type PairedComparison, type Summary } from '../../engine/eval/stats.ts';
import { percent, type EvalReport } from './eval-report.ts';
import { writeOutput } from './output-file.ts';

export interface CurvePoint {
  defense: string;
  attack: string;
  steps: number;
  eot: number;
  /** Images first … first + n − 1. */
  first: number;
  n: number;
  robust: Summary;
  /** Robust images (clean correct ∧ not fooled), mean over the rows (seeds × scoring draws). */
  robustImages: number;
  /** The chain the attack differentiated: a surrogate's description, or the defence's own. */
  gradientChain: string;
  /** Reverse steps of that chain (the defence's own: its full chain): more is more faithful. */
  chainSteps: number;
  /** Per row (seed × scoring draw), per image: robust (clean correct ∧ not fooled). */
  flags: boolean[][];
  /** Wilson 95 % interval of the n images at robustImages. */
  wilson95: Interval;
}

/** What the attack differentiated, as curve rows name it. */
const DEFENCE_CHAIN = "the defence's chain";

export interface CurveVerdict {
  attack: string;
  /** Which budget grew: attack 'steps', 'eot' samples, or the 'chain' differentiated (a surrogate → a more faithful chain). */
  along: 'steps' | 'eot' | 'chain';
  from: CurvePoint;
  to: CurvePoint;
  converged: boolean;
  /** Per row both budgets have, paired per image: onlyFirst = robust only at the smaller budget (lost), onlySecond = only at the larger (gained). */
  paired: PairedComparison[];
}

/** One point per (defence, attack) of every file; all must be one defence on the same images. */
export function curvePoints(reports: EvalReport[]): CurvePoint[] {
  const points = reports.flatMap((r) =>
    r.defenses.flatMap((d) =>
      d.attacks.map((a) => {
        const rows = robustFlags(d.flags, a.attack);
        const robustImages = rows.reduce((t, row) => t + row.filter(Boolean).length, 0) / rows.length;
        const chain = d.surrogate ?? d.purification;
        const gradientChain = d.surrogate ? `surrogate: ${d.surrogate.steps ?? d.surrogate.tStar} of t* = ${d.surrogate.tStar} steps` : DEFENCE_CHAIN;
        const chainSteps = chain ? (chain.steps ?? chain.tStar) : 0;
        return { defense: d.defense, attack: a.attack, steps: a.settings.steps, eot: a.eot, first: d.flags.first, n: d.flags.n, robust: a.robust, robustImages, gradientChain, chainSteps, flags: rows, purification: JSON.stringify(d.purification), wilson95: wilsonAtMeanCount(robustImages, d.flags.n) };
      }),
    ),
  );
  if (!points.length) throw new RangeError('eval curve: the files hold no attack results');
  const [head] = points;
  for (const p of points) {
    if (p.defense !== head.defense || p.purification !== head.purification) throw new RangeError(`eval curve: every file must evaluate one defence with one chain (${head.defense} and ${p.defense} differ)`);
    if (p.first !== head.first || p.n !== head.n) throw new RangeError(`eval curve: every file must cover the same images (${head.first}–${head.first + head.n - 1} and ${p.first}–${p.first + p.n - 1} differ)`);
  }
  const seen = new Set<string>();
  for (const p of points) {
    const key = `${p.attack} ${p.steps} ${p.eot} ${p.gradientChain}`;
    if (seen.has(key)) throw new RangeError(`eval curve: ${p.attack} at ${p.steps} steps, EOT ${p.eot} through ${p.gradientChain} is in two files`);
    seen.add(key);
  }
  return points
    .map(({ purification: _p, ...p }) => p)
    .sort((a, b) => a.attack.localeCompare(b.attack) || a.chainSteps - b.chainSteps || a.eot - b.eot || a.steps - b.steps);
}

/** Each budget against the next larger one along steps (same EOT and chain), EOT (same steps and chain) and chain (same steps and EOT). */
export function curveVerdicts(points: CurvePoint[]): CurveVerdict[] {
  const verdicts: CurveVerdict[] = [];
  const axis = { steps: (p: CurvePoint) => p.steps, eot: (p: CurvePoint) => p.eot, chain: (p: CurvePoint) => p.chainSteps };
  for (const from of points) {
    for (const along of ['steps', 'eot', 'chain'] as const) {
      const same = (p: CurvePoint) => (['steps', 'eot', 'chain'] as const).every((k) => k === along || axis[k](p) === axis[k](from));
      const larger = points.filter((p) => p.attack === from.attack && same(p) && axis[along](p) > axis[along](from)).sort((a, b) => axis[along](a) - axis[along](b));
      const to = larger[0];
      if (!to) continue;
      const rows = Math.min(from.flags.length, to.flags.length);
      const paired = Array.from({ length: rows }, (_, r) => pairedMcnemar(from.flags[r], to.flags[r]));
      verdicts.push({ attack: from.attack, along, from, to, converged: from.robustImages - to.robustImages <= slack(from.n), paired });
    }
  }
  return verdicts;
}

export function renderCurve(points: CurvePoint[], verdicts: CurveVerdict[] = curveVerdicts(points)): string {
  const { defense, first, n } = points[0];
  const lines = [`### Convergence: ${defense}, test images ${first}–${first + n - 1}`, ''];
  lines.push('| attack | gradient through | steps | EOT | gradients per image | robust | Wilson 95 % |', '|---|---|---|---|---|---|---|');
  for (const p of points) {
    const ci = p.wilson95;
    lines.push(`| ${p.attack} | ${p.gradientChain} | ${p.steps} | ${p.eot} | ${p.steps * p.eot} | ${percent(p.robust.mean)}${p.robust.perSeed.length > 1 ? ` ± ${percent(p.robust.std)}` : ''} % | [${percent(ci.low)}, ${percent(ci.high)}] |`);
  }
  const chains = new Set(points.map((p) => p.gradientChain)).size;
  lines.push('', `Each budget against the next larger one; "not converged" when accuracy falls by more than max(1 image, 1 %) = ${slack(n).toFixed(2).replace(/\.?0+$/, '')} image(s) of ${n}. Paired per image, per row (seed × scoring draw): images robust only at the smaller budget / only at the larger.`, '');
  lines.push('| attack | budget | accuracy | lost / gained per row (exact McNemar p) | verdict |', '|---|---|---|---|---|');
  for (const v of verdicts) {
    const budget = (p: CurvePoint) => `${p.steps} steps × EOT ${p.eot}${chains > 1 ? `, ${p.gradientChain}` : ''}`;
    const paired = v.paired.map((t) => `${t.onlyFirst} / ${t.onlySecond} (${t.p.toPrecision(2)})`).join(', ');
    lines.push(`| ${v.attack} | ${budget(v.from)} → ${budget(v.to)} | ${percent(v.from.robust.mean)} → ${percent(v.to.robust.mean)} % | ${paired} | ${v.converged ? 'converged' : '**not converged**'} |`);
  }
  if (!verdicts.length) lines.push('| - | (one budget only: nothing to compare) | | | |');
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'string' }, md: { type: 'string' } } });
  if (!positionals.length) throw new Error('usage: purify eval curve FILE.json... [--json OUT.json] [--md OUT.md]: one file per (steps, EOT, chain the attack differentiates) of one defence on the same images');
  const points = curvePoints(positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as EvalReport));
  const verdicts = curveVerdicts(points);
  if (values.json) writeOutput(values.json, JSON.stringify({ points, verdicts: verdicts.map((v) => ({ attack: v.attack, along: v.along, from: [v.from.steps, v.from.eot, v.from.gradientChain], to: [v.to.steps, v.to.eot, v.to.gradientChain], converged: v.converged, paired: v.paired })) }, null, 2) + '\n');
  const md = renderCurve(points, verdicts);
  if (values.md) writeOutput(values.md, md + '\n');
  else console.log(md);
}
