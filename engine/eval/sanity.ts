// Checks that an evaluation's attacks are not fooled by gradient masking (Carlini et al. 2019, "On
// evaluating adversarial robustness"; Athalye et al. 2018), run on the first images and one seed.
// Each can fail, and test/eval/sanity.test.ts makes each fail on a broken target:
//  - convergence: twice the steps, or twice the EOT samples, must not lower accuracy by more than
//    max(1 image, 1 %); if it does, the number is "not converged" (an upper bound at best);
//  - the followed gradient matches central finite differences of the scored pipeline (gradient-check.ts);
// When the evaluation's attacks differentiate a surrogate chain, so do the checks' attacks (their
// images still scored on the defence): the checks probe the attack as it was run.
//  - PGD from the clean images, without a random start, at an unbounded ε reaches 0 % (the random
//    start alone cannot pass: only a gradient that works can);
//  - the same attack breaks the bare classifier (accuracy ≤ max(1 image, 1 %));
//  - the black-box Square attack does not beat the white-box attacks: adding it to their worst
//    case removes at most max(1 image, 1 %) more images.
import { ATTACKS, runAttackOn, type AttackName } from '../attacks/index.ts';
import { eot } from '../attacks/eot.ts';
import { pgd } from '../attacks/pgd.ts';
import { evaluationDraw, type Pipeline } from '../purify/defended.ts';
import { pipelineTarget, type AttackTarget } from '../attacks/target.ts';
import { fromArray } from '../ops/index.ts';
import type { Classifier } from '../models/types.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import type { AttackConfig, EvalData } from './evaluate.ts';
import { gradientCheck } from './gradient-check.ts';
import { argmaxRows } from './predict.ts';

export interface SanityCheck {
  name: string;
  /** null: not applicable here. */
  passed: boolean | null;
  value: number | null;
  detail: string;
}

/** What every check runs on: a target, the first data.n images, one seed. */
export interface SanityContext {
  engine: Engine;
  /** What the attacks differentiate. */
  target: AttackTarget;
  /** What scores their images and what the gradient check differentiates: the defence (default: target). */
  scored?: AttackTarget;
  data: EvalData;
  seed: number;
  batch: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

/** The images a count may move by before a check fails: max(1 image, 1 %). */
export const slack = (n: number) => Math.max(1, 0.01 * n);

const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
const countTrue = (flags: boolean[]) => flags.filter(Boolean).length;
const imageCount = (k: number) => `${+k.toFixed(2)} image${k === 1 ? '' : 's'}`;

type BatchAttack = (x: Tensor, labels: number[], firstIndex: number, onStep: (done: number, total: number) => void) => Promise<Tensor>;

/** Per image: still classified correctly, under the evaluation draw, after `attack`? */
export async function robustFlags(ctx: SanityContext, attack: BatchAttack, label: string): Promise<boolean[]> {
  const { engine, target, data } = ctx;
  const [c, h, w] = target.imageShape;
  const per = c * h * w;
  const flags: boolean[] = [];
  for (let start = 0; start < data.n; start += ctx.batch) {
    const size = Math.min(ctx.batch, data.n - start);
    const y = Array.from({ length: size }, (_, i) => data.labels[start + i]);
    const predicted = await engine.scopeAsync(async () => {
      const x = fromArray(engine, data.images.subarray(start * per, (start + size) * per), [size, c, h, w], 'sanity images');
      const adv = await attack(x, y, start, (d, t) => ctx.onProgress?.(label, start + (size * d) / t, data.n));
      try {
        const judge = ctx.scored ?? target;
        return argmaxRows(await judge.logits(adv, evaluationDraw(ctx.seed, start)), judge.classes);
      } finally {
        adv.dispose();
      }
    });
    flags.push(...predicted.map((q, i) => q === y[i]));
  }
  return flags;
}

/** Per-image flags of a named attack at settings `a` against the context's target. */
export const attackFlags = (ctx: SanityContext, a: AttackConfig, label: string = a.name) =>
  robustFlags(ctx, (x, y, start, onStep) => runAttackOn(a.name, ctx.target, x, y, { ...a.settings, seed: ctx.seed }, start, onStep), label);

/**
 * Doubling the attack's steps, and (for a randomised target and an EOT attack) its EOT samples:
 * fails when accuracy falls by more than max(1 image, 1 %). `baseline`: the attack's accuracy on
 * these images and seed if the evaluation already has it.
 */
export async function convergenceChecks(ctx: SanityContext, attack: AttackConfig, baseline?: number): Promise<SanityCheck[]> {
  const n = ctx.data.n;
  const base = baseline ?? countTrue(await attackFlags(ctx, attack)) / n;
  const s = attack.settings;
  const doubled = async (what: 'steps' | 'eot', name: string): Promise<SanityCheck> => {
    const more = { ...attack, settings: { ...s, [what]: 2 * s[what] } };
    const after = countTrue(await attackFlags(ctx, more, `${attack.name} with ${2 * s[what]} ${what}`)) / n;
    const drop = (base - after) * n;
    return {
      name,
      passed: drop <= slack(n),
      value: after - base,
      detail: `${attack.name}: ${what} ${s[what]} → ${2 * s[what]}: ${pct(base)} → ${pct(after)} (not converged if it falls by more than ${imageCount(slack(n))})`,
    };
  };
  const checks = [await doubled('steps', 'converged in steps')];
  if (ctx.target.randomised && ATTACKS[attack.name].eot) checks.push(await doubled('eot', 'converged in EOT samples'));
  else checks.push({ name: 'converged in EOT samples', passed: null, value: null, detail: ctx.target.randomised ? `${attack.name} takes no EOT` : 'deterministic target: EOT does not apply' });
  return checks;
}

/** PGD on cross-entropy from the clean images, no random start, ε = 1 (L∞) or the whole box (L2): must leave no image correct. */
export async function unboundedCheck(ctx: SanityContext, attack: AttackConfig): Promise<SanityCheck> {
  const { norm, steps, eot: samples } = attack.settings;
  const [c, h, w] = ctx.target.imageShape;
  const eps = norm === 'linf' ? 1 : Math.sqrt(c * h * w);
  const flags = await robustFlags(ctx, (x, y, start, onStep) => {
    const gradient = eot(ctx.target.sample('full', y, 'ce'), ctx.target.randomised ? samples : 1, ctx.seed, start);
    return pgd(x, gradient, { norm, eps, steps, randomStart: false, onStep });
  }, `PGD at ε=${eps.toFixed(1)}`);
  const left = countTrue(flags);
  return {
    name: 'unbounded ε reaches 0 %',
    passed: left === 0,
    value: left / ctx.data.n,
    detail: `PGD-${steps} (CE, full gradient, no random start) at ε = ${eps.toFixed(2)} (${norm}): ${pct(left / ctx.data.n)} accuracy (pass: 0 %)`,
  };
}

/** The attack against the bare classifier (ctx.target) must leave at most max(1 image, 1 %) correct. */
export async function bareBreaksCheck(ctx: SanityContext, attack: AttackConfig, name: string, accuracy?: number): Promise<SanityCheck> {
  const n = ctx.data.n;
  const left = accuracy !== undefined ? accuracy * n : countTrue(await attackFlags(ctx, attack, `${attack.name} on the bare classifier`));
  return {
    name: 'the attack breaks the bare classifier',
    passed: left <= slack(n),
    value: left / n,
    detail: `${attack.name} on ${name} alone: ${pct(left / n)} accuracy (pass ≤ ${imageCount(slack(n))})`,
  };
}

/**
 * From per-image robust flags of the evaluated attacks: Square's breaks that every white-box attack
 * missed. More than max(1 image, 1 %) means the white-box attacks are being misled.
 */
export function squareCheck(robust: Partial<Record<AttackName, boolean[]>>): SanityCheck {
  const name = 'square does not beat the white-box attacks';
  const white = Object.entries(robust).filter(([a]) => a !== 'square' && ATTACKS[a as AttackName].estimator !== 'queries').map(([, f]) => f!);
  if (!robust.square || !white.length) return { name, passed: null, value: null, detail: 'needs square and a white-box attack in the evaluation' };
  const n = robust.square.length;
  const whiteWorst = robust.square.map((_, i) => white.every((f) => f[i]));
  const onlySquare = countTrue(whiteWorst.map((r, i) => r && !robust.square![i]));
  return {
    name,
    passed: onlySquare <= slack(n),
    value: onlySquare / n,
    detail: `square fooled ${imageCount(onlySquare)} every white-box attack missed (white-box worst case ${pct(countTrue(whiteWorst) / n)}, square ${pct(countTrue(robust.square) / n)}; pass ≤ ${imageCount(slack(n))})`,
  };
}

/**
 * The finite-difference check of the full gradient on the first `points` images, on the DLR loss
 * (cross-entropy saturates inside a purifier's ε-ball: ‖g‖ ≈ 1e-4 on the shipped chains). Measured
 * on MNIST test images 0–2 with the shipped full chains: diffpure ≤ 8.7e-4, gdmp ≤ 1.2e-3, while
 * agdm's held-constant guidance gradient (attacks/full-gradient.ts) scores 0.039–0.045, all from
 * the random direction: in 784 dimensions a wrong gradient shows along a random v only at about
 * 1/√784 of its error, hence a tolerance of 1e-2, eight times the healthy chains' worst.
 */
export async function gradientMatchCheck(ctx: SanityContext, attack: AttackConfig, points = 4, tol = 0.01): Promise<SanityCheck> {
  const [c, h, w] = ctx.target.imageShape;
  const k = Math.min(points, ctx.data.n);
  const per = c * h * w;
  const labels = Array.from({ length: k }, (_, i) => ctx.data.labels[i]);
  const r = await gradientCheck(ctx.engine, ctx.scored ?? ctx.target, ctx.data.images.slice(0, k * per), labels, 0, { norm: attack.settings.norm, eps: attack.settings.eps, estimator: 'full', loss: 'dlr', seed: ctx.seed });
  const worst = Math.max(...r.errors);
  const at = r.errors.indexOf(worst);
  const fmt = (pair: [number, number]) => pair.map((v) => v.toExponential(2)).join(', ');
  return {
    name: 'gradient matches finite differences',
    passed: worst <= tol,
    value: worst,
    detail: `full DLR gradient at ${k} random points of the ε-ball, one noise draw: per-image |⟨g,v⟩ − fd| / max(‖g‖, |fd|), 0 where both < 1e-4 (flat) ${r.errors.map((e) => e.toExponential(1)).join(', ')} (pass ≤ ${tol}); image ${at}: ‖g‖ ${r.gradNorms[at].toExponential(2)}, ⟨g,v⟩ along ĝ and random ${fmt(r.directional[at])}, differences ${fmt(r.differences[at])}`,
  };
}

export interface SanityOptions {
  /** The attack to probe (the evaluation's strongest full-gradient attack, say). */
  attack: AttackConfig;
  /** Images to run on: the first n. */
  n: number;
  seed: number;
  batch: number;
  /** The probe attack's accuracy on these images and seed, from the evaluation itself (else rerun). */
  accuracy?: number;
  /** Per-image robust flags of every evaluated attack on these images and seed (for the Square check). */
  robust?: Partial<Record<AttackName, boolean[]>>;
  /** Images for the finite-difference check (default 4). */
  gradientImages?: number;
  /** The undefended classifier the attack must break (default: the pipeline's own classifier). */
  bare?: Classifier;
  /**
   * The chain the evaluation's attacks differentiate when it is a surrogate of the defence: the
   * checks' attacks then differentiate it too, and their images are scored on the defence.
   */
  attacked?: Pipeline;
  onProgress?: (label: string, done: number, total: number) => void;
}

/** Every check, in a fixed order, on a pipeline; the bare-classifier check runs on its classifier alone. */
export async function sanityChecks(engine: Engine, p: Pipeline, data: EvalData, opts: SanityOptions): Promise<SanityCheck[]> {
  const ctx: SanityContext = { engine, target: pipelineTarget(opts.attacked ?? p), scored: pipelineTarget(p), data: { ...data, n: opts.n }, seed: opts.seed, batch: opts.batch, onProgress: opts.onProgress };
  const { attack } = opts;
  const bare = opts.bare ?? p.classifier;
  const accuracy = opts.accuracy ?? countTrue(await attackFlags(ctx, attack)) / opts.n;
  return [
    ...(await convergenceChecks(ctx, attack, accuracy)),
    await gradientMatchCheck(ctx, attack, opts.gradientImages),
    await unboundedCheck(ctx, attack),
    await bareBreaksCheck({ ...ctx, target: pipelineTarget({ classifier: bare }), scored: undefined }, attack, bare.name, !p.defense && bare === p.classifier ? accuracy : undefined),
    squareCheck(opts.robust ?? {}),
  ];
}
