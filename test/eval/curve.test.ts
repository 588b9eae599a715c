// `purify eval curve`: budgets whose next larger one lowers robust accuracy by more than
// max(1 image, 1 %) are marked not converged, a flat curve is converged, and files of other images
// or another defence are refused instead of being plotted on one curve. Runs through a surrogate and
// through the defence's own chain are separate curves, compared at the budgets both ran.
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { summarizeFlags, type PerImageFlags } from '../../engine/eval/flags.ts';
import { curvePoints, curveVerdicts, renderCurve } from '../../tools/commands/eval-curve.ts';
import type { EvalReport } from '../../tools/commands/eval-report.ts';
import { freshSeed, rng } from '../helpers/check.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

const N = 40;
/** A run of `attack` at (steps, eot) that leaves `robust` of the N images (all clean correct), images in random order. */
const CHAIN = { method: 'agdm' as const, tStar: 70, scale: 30 };
/** The surrogate the attacks differentiate: a 10-step DDIM chain of the same defence. */
const SURROGATE = { ...CHAIN, steps: 10 };

function run(steps: number, eot: number, robust: number, opts: { first?: number; defense?: string; surrogate?: boolean } = {}): EvalReport {
  const row = Array.from({ length: N }, (_, i) => i < robust);
  for (let i = N - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [row[i], row[j]] = [row[j], row[i]];
  }
  const flags: PerImageFlags = { first: opts.first ?? 0, n: N, clean: [Array(N).fill(true)], attacks: { 'apgd-ce': [row] } };
  const s = summarizeFlags(flags);
  const settings = { norm: 'linf' as const, eps: 0.3, steps, eot };
  return {
    commands: [], date: '', adapter: '', dataset: 'mnist', n: N, seeds: [0], rows: [],
    models: { classifier: { name: 'c', file: '', sha256: '' }, denoiser: null, guidance: null },
    threat: { norm: 'linf', eps: 0.3 },
    defenses: [{ defense: opts.defense ?? 'agdm', purification: CHAIN, surrogate: opts.surrogate ? SURROGATE : null, clean: s.clean, worstCase: s.worstCase, attacks: [{ attack: 'apgd-ce', estimator: 'full', loss: 'ce', eot, settings, robust: s.robust['apgd-ce'], secondsPerImage: 1 }], flags, sanity: [], seconds: 1 }],
  } as EvalReport;
}

test('a budget whose doubling loses more than one image is not converged; a flat one is', () => {
  // Steps 10 → 20 loses 3 of 40 images (not converged), 20 → 40 loses 1 (converged); EOT 1 → 2 at 20 steps loses none.
  const points = curvePoints([run(40, 2, 30), run(10, 2, 34), run(20, 2, 31), run(20, 1, 31)]);
  assert.equal(points.map((p) => [p.steps, p.eot]), [[20, 1], [10, 2], [20, 2], [40, 2]]);
  const verdicts = curveVerdicts(points).map((v) => `${v.along} ${v.from.steps}x${v.from.eot}→${v.to.steps}x${v.to.eot} ${v.converged}`);
  assert.equal(verdicts.sort(), ['eot 20x1→20x2 true', 'steps 10x2→20x2 false', 'steps 20x2→40x2 true']);
  const md = renderCurve(points);
  assert.match(md, /\| apgd-ce \| 10 steps × EOT 2 → 20 steps × EOT 2 \| 85\.0 → 77\.5 % \| \d+ \/ \d+ \([\d.e-]+\) \| \*\*not converged\*\* \|/);
  assert.match(md, /\| apgd-ce \| the defence's chain \| 10 \| 2 \| 20 \| 85\.0 % \| \[/);
});

test('a surrogate is its own curve; the defence\'s chain at the same budget judges it', () => {
  // Through the surrogate: 20 → 40 steps loses nothing. Through the defence's chain at 20 × 2: 4 images fewer.
  const points = curvePoints([run(20, 2, 34, { surrogate: true }), run(40, 2, 34, { surrogate: true }), run(20, 2, 30)]);
  assert.equal(points.map((p) => [p.gradientChain, p.steps]), [['surrogate: 10 of t* = 70 steps', 20], ['surrogate: 10 of t* = 70 steps', 40], ["the defence's chain", 20]]);
  const verdicts = curveVerdicts(points).map((v) => `${v.along} ${v.from.steps}x${v.from.eot}/${v.from.chainSteps}→${v.to.steps}x${v.to.eot}/${v.to.chainSteps} ${v.converged}`);
  assert.equal(verdicts.sort(), ['chain 20x2/10→20x2/70 false', 'steps 20x2/10→40x2/10 true']);
  const md = renderCurve(points);
  assert.match(md, /\| apgd-ce \| 20 steps × EOT 2, surrogate: 10 of t\* = 70 steps → 20 steps × EOT 2, the defence's chain \| 85\.0 → 75\.0 % \| \d+ \/ \d+ \([\d.e-]+\) \| \*\*not converged\*\* \|/);
  // The same budget through the same chain twice is still refused (through two chains it is the comparison above).
  assert.throws(() => curvePoints([run(20, 2, 34, { surrogate: true }), run(20, 2, 33, { surrogate: true })]), /is in two files/);
});

test('each verdict pairs the two budgets image by image: lost minus gained is the fall in robust images', () => {
  const verdicts = curveVerdicts(curvePoints([run(10, 2, 40), run(20, 2, 28), run(20, 4, 29)]));
  assert.equal(verdicts.length, 2);
  for (const v of verdicts) {
    const count = (row: boolean[]) => row.filter(Boolean).length;
    const [t] = v.paired;
    assert.is(t.onlyFirst - t.onlySecond, count(v.from.flags[0]) - count(v.to.flags[0]));
    // At least the fall itself is discordant, and no more images than there are.
    assert.ok(t.onlyFirst >= count(v.from.flags[0]) - count(v.to.flags[0]) && t.onlyFirst + t.onlySecond <= N);
  }
  // 40 → 28 robust images: exactly 12 lost and none gained, p = 2 · 2⁻¹².
  const steps = verdicts.find((v) => v.along === 'steps')!;
  const { onlyFirst, onlySecond, p } = steps.paired[0];
  assert.equal([onlyFirst, onlySecond], [12, 0]);
  assert.ok(Math.abs(p - 2 * 2 ** -12) < 1e-15, `p = ${p}`);
});

test('files of other images, another defence or a repeated budget are refused', () => {
  assert.throws(() => curvePoints([run(10, 2, 30), run(20, 2, 30, { first: 40 })]), /same images/);
  assert.throws(() => curvePoints([run(10, 2, 30), run(20, 2, 30, { defense: 'gdmp' })]), /one defence/);
  assert.throws(() => curvePoints([run(10, 2, 30), run(10, 2, 29)]), /is in two files/);
  assert.throws(() => curvePoints([]), /no attack results/);
});

const COMMITTED = 'reports/mnist-adaptive-3264/convergence';
const committedPoints = () =>
  readdirSync(COMMITTED)
    .filter((f) => /^agdm-steps.*\.json$/.test(f))
    .map((f) => ({ file: f, report: JSON.parse(readFileSync(`${COMMITTED}/${f}`, 'utf8')) as EvalReport }));

test('the committed convergence table is what eval curve makes of the committed points, and a flipped flag changes it', () => {
  const committed = readFileSync(`${COMMITTED}.md`, 'utf8');
  const files = committedPoints();
  assert.is(renderCurve(curvePoints(files.map((f) => f.report))) + '\n', committed);
  const largest = files.find((f) => f.file === 'agdm-steps40-eot32.json');
  assert.ok(largest, 'the 40 steps × EOT 32 point is committed');
  const row = largest.report.defenses[0].flags.attacks['apgd-ce'][0];
  row[0] = !row[0];
  assert.is.not(renderCurve(curvePoints(files.map((f) => f.report))) + '\n', committed, 'one image flipped in one draw must show');
});

test.run();
