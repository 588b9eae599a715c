// The attacks by name, each with the gradient estimator and loss it uses against a pipeline:
//   fgsm       one step of size ε, full gradient through the purifier, one noise draw
//   pgd        PGD, full gradient, one noise draw per step
//   pgd-eot    PGD, full gradient averaged over K draws (Lee & Kim 2023's PGD+EOT)
//   bpda-eot   PGD, BPDA (identity backward through the purifier), K draws
//   apgd-ce    APGD on cross-entropy, full gradient, K draws (AutoAttack "rand")
//   apgd-dlr   APGD on the DLR loss, likewise
//   apgd-hijack    APGD on the ŷ-hijack objective (hijack.ts): f's CE through the purifier plus
//                  c_φ's CE at the input, full gradient, K draws; AGDM only
//   apgd-hijack-t  the same, targeted at c_φ's runner-up class at the clean image
//   apgd-smooth    APGD-CE, smooth BPDA (target.ts): the full gradient of the chain with c_φ's ReLUs
//                  smoothed, K draws; AGDM only
//   apgd-known     APGD-CE with the defence's own noise: the attacker knows the seed (a threat
//                  model row), so every gradient uses the evaluation draw and EOT does not apply
//   square     Square Attack (L∞ only), black box: logits only, `steps` queries per image, a fresh
//              noise draw per query; a sanity row (it must not beat the white-box attacks)
// Against a bare classifier every estimator is the classifier's exact gradient and K is 1.
import type { Tensor } from '../tensor.ts';
import { apgd } from './apgd.ts';
import { eot } from './eot.ts';
import { fgsm } from './fgsm.ts';
import { hijackSample, runnerUpTargets } from './hijack.ts';
import type { GradientFn, LogitLoss } from './objectives.ts';
import { pgd } from './pgd.ts';
import { evaluationDraw, type Pipeline } from '../purify/defended.ts';
import type { Norm } from './project.ts';
import { square } from './square.ts';
import { pipelineTarget, type AttackTarget, type Estimator } from './target.ts';

export type { Estimator } from './target.ts';
export const ATTACK_NAMES = ['fgsm', 'pgd', 'pgd-eot', 'bpda-eot', 'apgd-ce', 'apgd-dlr', 'apgd-hijack', 'apgd-hijack-t', 'apgd-smooth', 'apgd-known', 'square'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

export interface AttackSettings {
  norm: Norm;
  eps: number;
  /** Iterations; for the black-box square attack, logit queries per image. */
  steps: number;
  /** EOT samples per gradient (attacks without EOT use 1). */
  eot: number;
  /** PGD's α (default 2.5·ε/steps); APGD adapts its own. */
  stepSize?: number;
  seed: number;
}

type OnStep = (done: number, total: number) => void;

interface AttackSpec {
  /** What the attack learns from: a gradient estimator, or logit queries alone (black box). */
  estimator: Estimator | 'queries';
  /** What the report names as the loss ascended. */
  loss: LogitLoss | 'margin' | 'CE + c_φ CE (ŷ-hijack)' | 'targeted CE + c_φ CE (ŷ-hijack)';
  eot: boolean;
  /** Set for attacks on AGDM's guidance network: they need a pipeline with c_φ. */
  needsGuide?: true;
  run(x: Tensor, labels: ArrayLike<number>, target: AttackTarget, s: AttackSettings, firstIndex: number, onStep?: OnStep): Promise<Tensor>;
}

type GradientAttack = (x: Tensor, labels: ArrayLike<number>, gradient: GradientFn, s: AttackSettings, firstIndex: number, onStep?: OnStep) => Promise<Tensor>;

/** A white-box attack following the estimator's gradient, averaged over EOT draws when it uses EOT and the target is randomised. */
function whiteBox(estimator: Estimator, loss: LogitLoss, useEot: boolean, attack: GradientAttack): AttackSpec {
  return {
    estimator,
    loss,
    eot: useEot,
    // async, so a target that cannot give the estimator rejects like every other attack.
    run: async (x, labels, target, s, firstIndex, onStep) =>
      attack(x, labels, eot(target.sample(estimator, labels, loss), target.randomised && useEot ? s.eot : 1, s.seed, firstIndex), s, firstIndex, onStep),
  };
}

const runPgd: GradientAttack = (x, _labels, gradient, s, firstIndex, onStep) =>
  pgd(x, gradient, { norm: s.norm, eps: s.eps, steps: s.steps, stepSize: s.stepSize, randomStart: true, seed: s.seed, firstIndex, onStep });
const runApgd: GradientAttack = (x, labels, gradient, s, firstIndex, onStep) =>
  apgd(x, labels, gradient, { norm: s.norm, eps: s.eps, steps: s.steps, seed: s.seed, firstIndex, onStep });

/** APGD on the ŷ-hijack objective, untargeted or aimed at c_φ's runner-up class. */
function hijack(targeted: boolean): AttackSpec {
  return {
    estimator: 'full',
    loss: targeted ? 'targeted CE + c_φ CE (ŷ-hijack)' : 'CE + c_φ CE (ŷ-hijack)',
    eot: true,
    needsGuide: true,
    run: async (x, labels, target, s, firstIndex, onStep) => {
      if (!target.guide) throw new RangeError('the ŷ-hijack attacks AGDM\'s guidance network: run it against agdm, whose pipeline has one');
      const targets = targeted ? await runnerUpTargets(target.guide, x, labels) : null;
      const sample = hijackSample(target.sample('full', targets ?? labels, 'ce'), target.guide, labels, { targets });
      return runApgd(x, labels, eot(sample, s.eot, s.seed, firstIndex), s, firstIndex, onStep);
    },
  };
}

/**
 * The gradient an attacker who knows the defence's seed follows: the pipeline's under the very draw
 * the evaluation scores with (pipeline.ts's evaluationDraw), the same at every step.
 */
export function knownNoiseGradient(target: AttackTarget, labels: ArrayLike<number>, seed: number, firstIndex: number): GradientFn {
  const sample = target.sample('full', labels, 'ce');
  return (xAdv) => sample(xAdv, evaluationDraw(seed, firstIndex));
}

const knownNoise: AttackSpec = {
  estimator: 'full',
  loss: 'ce',
  eot: false,
  run: (x, labels, target, s, firstIndex, onStep) => runApgd(x, labels, knownNoiseGradient(target, labels, s.seed, firstIndex), s, firstIndex, onStep),
};

const squareAttack: AttackSpec = {
  estimator: 'queries',
  loss: 'margin',
  eot: false,
  run: (x, labels, target, s, firstIndex, onStep) => {
    if (s.norm !== 'linf') throw new RangeError('the square attack is implemented for L∞ only');
    // Query q sees purification repeat 1 + q: fresh noise per query, never the evaluation draw.
    return square(x, labels, (xq, q) => target.logits(xq, { seed: s.seed, repeat: 1 + q, firstIndex }), { eps: s.eps, queries: s.steps, seed: s.seed, firstIndex, onStep });
  },
};

export const ATTACKS: Record<AttackName, AttackSpec> = {
  'fgsm': whiteBox('full', 'ce', false, (x, _labels, gradient, s) => fgsm(x, gradient, s)),
  'pgd': whiteBox('full', 'ce', false, runPgd),
  'pgd-eot': whiteBox('full', 'ce', true, runPgd),
  'bpda-eot': whiteBox('bpda', 'ce', true, runPgd),
  'apgd-ce': whiteBox('full', 'ce', true, runApgd),
  'apgd-dlr': whiteBox('full', 'dlr', true, runApgd),
  'apgd-hijack': hijack(false),
  'apgd-hijack-t': hijack(true),
  'apgd-smooth': { ...whiteBox('smooth', 'ce', true, runApgd), needsGuide: true },
  'apgd-known': knownNoise,
  'square': squareAttack,
};

export function isAttackName(name: string): name is AttackName {
  return (ATTACK_NAMES as readonly string[]).includes(name);
}

/** Runs a named attack against a target on a batch whose first image has global index firstIndex; returns the adversarial images. */
export function runAttackOn(name: AttackName, target: AttackTarget, x: Tensor, labels: ArrayLike<number>, s: AttackSettings, firstIndex: number, onStep?: OnStep): Promise<Tensor> {
  return ATTACKS[name].run(x, labels, target, s, firstIndex, onStep);
}

/** Runs a named attack against a pipeline (runAttackOn its pipelineTarget). */
export function runAttack(name: AttackName, p: Pipeline, x: Tensor, labels: ArrayLike<number>, s: AttackSettings, firstIndex: number, onStep?: OnStep): Promise<Tensor> {
  return runAttackOn(name, pipelineTarget(p), x, labels, s, firstIndex, onStep);
}
