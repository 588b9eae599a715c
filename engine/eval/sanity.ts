// Checks that an evaluation's attack is not fooled by gradient masking (Carlini et al. 2019,
// "On evaluating adversarial robustness"; Athalye et al. 2018), run on the first images and seed:
//  - an unbounded attack (ε = 1 for L∞, the whole image box for L2) drives accuracy to ~0;
//  - twice the attack steps never raise accuracy beyond sampling noise;
//  - BPDA's and the full gradient point the same way (positive cosine) under the same noise;
//  - the same attack breaks the bare classifier.
import { fullGradientSample } from '../attacks/full-gradient.ts';
import { bpdaSample } from '../attacks/bpda.ts';
import { runAttack } from '../attacks/index.ts';
import { evaluationDraw, pipelineLogits, type DefendedPipeline, type Pipeline } from '../attacks/pipeline.ts';
import { fromArray } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import type { AttackConfig, EvalData } from './evaluate.ts';
import { argmaxRows } from './predict.ts';

export interface SanityCheck {
  name: string;
  /** null: not applicable here. */
  passed: boolean | null;
  value: number | null;
  detail: string;
}

export interface SanityOptions {
  /** The attack to probe (the evaluation's strongest full-gradient attack, say). */
  attack: AttackConfig;
  /** Images to run on: the first n. */
  n: number;
  seed: number;
  batch: number;
  /** Accuracy of this attack on the same images and seed, from the evaluation itself. */
  accuracy: number;
  /** Bare-classifier accuracy at or below which an attack counts as having succeeded. */
  successBelow?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

const pct = (v: number) => `${(100 * v).toFixed(1)} %`;

async function attackedAccuracy(engine: Engine, p: Pipeline, data: EvalData, attack: AttackConfig, opts: SanityOptions, label: string): Promise<number> {
  const [c, h, w] = p.classifier.imageShape;
  const per = c * h * w;
  let correct = 0;
  for (let start = 0; start < opts.n; start += opts.batch) {
    const count = Math.min(opts.batch, opts.n - start);
    const y = Array.from({ length: count }, (_, i) => data.labels[start + i]);
    correct += await engine.scopeAsync(async () => {
      const x = fromArray(engine, data.images.subarray(start * per, (start + count) * per), [count, c, h, w], 'sanity images');
      const adv = await runAttack(attack.name, p, x, y, { ...attack.settings, seed: opts.seed }, start, (d, t) => opts.onProgress?.(label, start + (count * d) / t, opts.n));
      const predicted = argmaxRows(await pipelineLogits(p, adv, evaluationDraw(opts.seed, start)), p.classifier.classes);
      adv.dispose();
      return predicted.filter((q, i) => q === y[i]).length;
    });
  }
  return correct / opts.n;
}

/** Mean and minimum per-image cosine between BPDA and full gradients at the clean images, one shared draw. */
async function gradientAgreement(engine: Engine, p: DefendedPipeline, data: EvalData, opts: SanityOptions): Promise<{ mean: number; min: number }> {
  const [c, h, w] = p.classifier.imageShape;
  const per = c * h * w;
  const cosines: number[] = [];
  for (let start = 0; start < opts.n; start += opts.batch) {
    const count = Math.min(opts.batch, opts.n - start);
    const y = Array.from({ length: count }, (_, i) => data.labels[start + i]);
    const draw = { seed: opts.seed, repeat: 1, firstIndex: start };
    const [full, bpda] = await engine.scopeAsync(async () => {
      const x = fromArray(engine, data.images.subarray(start * per, (start + count) * per), [count, c, h, w], 'sanity images');
      const f = await fullGradientSample(p, y, 'ce')(x, draw);
      const b = await bpdaSample(p, y, 'ce')(x, draw);
      return [await f.grad.read(), await b.grad.read()];
    });
    for (let i = 0; i < count; i++) {
      let dot = 0, ff = 0, bb = 0;
      for (let j = i * per; j < (i + 1) * per; j++) {
        dot += full[j] * bpda[j];
        ff += full[j] * full[j];
        bb += bpda[j] * bpda[j];
      }
      cosines.push(dot / Math.sqrt(ff * bb || 1));
    }
    opts.onProgress?.('BPDA vs full gradient', start + count, opts.n);
  }
  return { mean: cosines.reduce((a, b) => a + b, 0) / cosines.length, min: Math.min(...cosines) };
}

export async function sanityChecks(engine: Engine, p: Pipeline, data: EvalData, opts: SanityOptions): Promise<SanityCheck[]> {
  const { attack } = opts;
  const success = opts.successBelow ?? 0.1;
  const checks: SanityCheck[] = [];
  const [c, h, w] = p.classifier.imageShape;
  const unbounded = attack.settings.norm === 'linf' ? 1 : Math.sqrt(c * h * w);
  const huge = await attackedAccuracy(engine, p, data, { ...attack, settings: { ...attack.settings, eps: unbounded } }, opts, `${attack.name} at ε=${unbounded.toFixed(1)}`);
  checks.push({
    name: 'unbounded ε drives accuracy to ~0',
    passed: huge <= success,
    value: huge,
    detail: `${attack.name} at ε = ${unbounded.toFixed(2)} (${attack.settings.norm}): ${pct(huge)} accuracy (pass ≤ ${pct(success)})`,
  });

  const steps = attack.settings.steps;
  const longer = await attackedAccuracy(engine, p, data, { ...attack, settings: { ...attack.settings, steps: 2 * steps } }, opts, `${attack.name} with ${2 * steps} steps`);
  // Two binomial standard errors of the shorter run's accuracy, and at least one image.
  const noise = 2 * Math.sqrt((opts.accuracy * (1 - opts.accuracy)) / opts.n) + 1 / opts.n;
  checks.push({
    name: 'more steps never raise accuracy',
    passed: longer <= opts.accuracy + noise,
    value: longer - opts.accuracy,
    detail: `${attack.name}: ${steps} steps ${pct(opts.accuracy)} → ${2 * steps} steps ${pct(longer)} (pass if the rise ≤ ${pct(noise)}, sampling noise)`,
  });

  if (p.defense) {
    const { mean, min } = await gradientAgreement(engine, p as DefendedPipeline, data, opts);
    checks.push({
      name: 'BPDA and full gradient agree in direction',
      passed: mean > 0,
      value: mean,
      detail: `per-image cosine at the clean images, same noise draw: mean ${mean.toFixed(3)}, min ${min.toFixed(3)} (pass: mean > 0)`,
    });
  } else {
    checks.push({ name: 'BPDA and full gradient agree in direction', passed: null, value: null, detail: 'no purifier: both are the classifier gradient' });
  }

  const bare = p.defense ? await attackedAccuracy(engine, { classifier: p.classifier }, data, attack, opts, `${attack.name} on the bare classifier`) : opts.accuracy;
  checks.push({
    name: 'the attack breaks the bare classifier',
    passed: bare <= success,
    value: bare,
    detail: `${attack.name} on ${p.classifier.name} alone: ${pct(bare)} accuracy (pass ≤ ${pct(success)})`,
  });
  return checks;
}
