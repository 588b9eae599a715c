// The attacks by name, each with the gradient estimator and loss it uses against a pipeline:
//   fgsm       one step of size ε, full gradient through the purifier, one noise draw
//   pgd        PGD, full gradient, one noise draw per step
//   pgd-eot    PGD, full gradient averaged over K draws (Lee & Kim 2023's PGD+EOT)
//   bpda-eot   PGD, BPDA (identity backward through the purifier), K draws
//   apgd-ce    APGD on cross-entropy, full gradient, K draws (AutoAttack "rand")
//   apgd-dlr   APGD on the DLR loss, likewise
// Against a bare classifier every estimator is the classifier's exact gradient and K is 1.
import type { Tensor } from '../tensor.ts';
import { apgd } from './apgd.ts';
import { bpdaSample } from './bpda.ts';
import { eot, type SampleGradient } from './eot.ts';
import { fgsm } from './fgsm.ts';
import { fullGradientSample } from './full-gradient.ts';
import { classifierGradient, type GradientFn, type LogitLoss } from './objectives.ts';
import { pgd } from './pgd.ts';
import type { DefendedPipeline, Pipeline } from './pipeline.ts';
import type { Norm } from './project.ts';

export const ATTACK_NAMES = ['fgsm', 'pgd', 'pgd-eot', 'bpda-eot', 'apgd-ce', 'apgd-dlr'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];
export type Estimator = 'full' | 'bpda';

export interface AttackSettings {
  norm: Norm;
  eps: number;
  steps: number;
  /** EOT samples per gradient (attacks without EOT use 1). */
  eot: number;
  /** PGD's α (default 2.5·ε/steps); APGD adapts its own. */
  stepSize?: number;
  seed: number;
}

interface AttackSpec {
  estimator: Estimator;
  loss: LogitLoss;
  eot: boolean;
  run(x: Tensor, labels: ArrayLike<number>, gradient: GradientFn, s: AttackSettings, firstIndex: number, onStep?: (done: number, total: number) => void): Promise<Tensor>;
}

const runPgd: AttackSpec['run'] = (x, _labels, gradient, s, firstIndex, onStep) =>
  pgd(x, gradient, { norm: s.norm, eps: s.eps, steps: s.steps, stepSize: s.stepSize, randomStart: true, seed: s.seed, firstIndex, onStep });
const runApgd: AttackSpec['run'] = (x, labels, gradient, s, firstIndex, onStep) =>
  apgd(x, labels, gradient, { norm: s.norm, eps: s.eps, steps: s.steps, seed: s.seed, firstIndex, onStep });

export const ATTACKS: Record<AttackName, AttackSpec> = {
  'fgsm': { estimator: 'full', loss: 'ce', eot: false, run: (x, _labels, gradient, s) => fgsm(x, gradient, s) },
  'pgd': { estimator: 'full', loss: 'ce', eot: false, run: runPgd },
  'pgd-eot': { estimator: 'full', loss: 'ce', eot: true, run: runPgd },
  'bpda-eot': { estimator: 'bpda', loss: 'ce', eot: true, run: runPgd },
  'apgd-ce': { estimator: 'full', loss: 'ce', eot: true, run: runApgd },
  'apgd-dlr': { estimator: 'full', loss: 'dlr', eot: true, run: runApgd },
};

export function isAttackName(name: string): name is AttackName {
  return (ATTACK_NAMES as readonly string[]).includes(name);
}

/** One noise draw of an estimator's gradient against a purified pipeline. */
export function sampleGradient(p: DefendedPipeline, estimator: Estimator, labels: ArrayLike<number>, loss: LogitLoss): SampleGradient {
  return estimator === 'full' ? fullGradientSample(p, labels, loss) : bpdaSample(p, labels, loss);
}

/** The gradient an attack follows: exact for a bare classifier, else the estimator averaged over `samples` draws. */
export function pipelineGradient(p: Pipeline, estimator: Estimator, labels: ArrayLike<number>, loss: LogitLoss, samples: number, seed: number, firstIndex: number): GradientFn {
  if (!p.defense) return classifierGradient(p.classifier, labels, loss);
  return eot(sampleGradient(p as DefendedPipeline, estimator, labels, loss), samples, seed, firstIndex);
}

/** Runs a named attack on a batch whose first image has global index firstIndex; returns the adversarial images. */
export function runAttack(name: AttackName, p: Pipeline, x: Tensor, labels: ArrayLike<number>, s: AttackSettings, firstIndex: number, onStep?: (done: number, total: number) => void): Promise<Tensor> {
  const spec = ATTACKS[name];
  const gradient = pipelineGradient(p, spec.estimator, labels, spec.loss, spec.eot ? s.eot : 1, s.seed, firstIndex);
  return spec.run(x, labels, gradient, s, firstIndex, onStep);
}
