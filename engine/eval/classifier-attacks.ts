// Robustness of a bare classifier under a suite of white-box attacks, image by image: an image is
// robust to an attack when it is classified correctly clean and no restart of the attack fools it
// (AutoAttack's convention). Restarts only attack the images still standing, so five restarts of a
// robust model cost far less than five full runs.
import { apgd } from '../attacks/apgd.ts';
import { classifierGradient } from '../attacks/objectives.ts';
import { pgd } from '../attacks/pgd.ts';
import type { Classifier } from '../models/types.ts';
import { fromArray } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { argmaxRows } from './predict.ts';

export interface ClassifierAttack {
  /** Names the attack in tables and in the per-image JSON. */
  name: string;
  kind: 'pgd' | 'apgd-ce' | 'apgd-dlr';
  steps: number;
  /** PGD's step size α (APGD adapts its own). */
  stepSize?: number;
  restarts: number;
}

/**
 * The model card's suite at L∞ radius eps: APGD-CE and APGD-DLR (the strongest here, so a run cut
 * short has them first), then PGD-40/100 at α = 0.01 and at α = 2.5·ε/steps.
 */
export function cardAttacks(eps: number, restarts: number): ClassifierAttack[] {
  const pgdRow = (steps: number, stepSize: number, label: string): ClassifierAttack => ({ name: `PGD-${steps}, α = ${label}`, kind: 'pgd', steps, stepSize, restarts });
  return [
    { name: 'APGD-CE-100', kind: 'apgd-ce', steps: 100, restarts },
    { name: 'APGD-DLR-100', kind: 'apgd-dlr', steps: 100, restarts },
    pgdRow(40, 0.01, '0.01'),
    pgdRow(40, (2.5 * eps) / 40, '2.5ε/40'),
    pgdRow(100, 0.01, '0.01'),
    pgdRow(100, (2.5 * eps) / 100, '2.5ε/100'),
  ];
}

export interface AttackTarget {
  engine: Engine;
  classifier: Classifier;
  /** Images [n, C, H, W] on the CPU and their labels. */
  images: Float32Array;
  labels: ArrayLike<number>;
  eps: number;
  seed: number;
  batch?: number;
}

/** The classifier's labels for the given images (by index). */
async function predictIndices(t: AttackTarget, indices: number[], attacked?: (x: Tensor, rows: number[]) => Promise<Tensor>): Promise<number[]> {
  const { engine, classifier } = t;
  const [c, h, w] = classifier.imageShape;
  const per = c * h * w;
  const batch = t.batch ?? 128;
  const out: number[] = [];
  for (let start = 0; start < indices.length; start += batch) {
    const rows = indices.slice(start, start + batch);
    const data = new Float32Array(rows.length * per);
    rows.forEach((img, i) => data.set(t.images.subarray(img * per, (img + 1) * per), i * per));
    const logits = await engine.scopeAsync(async () => {
      const x = fromArray(engine, data, [rows.length, c, h, w], 'images');
      if (!attacked) return classifier.logits(x).read();
      // Attacks return kept tensors, outside the scope's reach.
      const adv = await attacked(x, rows);
      try {
        return await classifier.logits(adv).read();
      } finally {
        adv.dispose();
      }
    });
    out.push(...argmaxRows(logits, classifier.classes));
  }
  return out;
}

/** Per image: classified correctly without attack. */
export async function cleanCorrect(t: AttackTarget, indices: number[]): Promise<boolean[]> {
  const predicted = await predictIndices(t, indices);
  return predicted.map((p, i) => p === t.labels[indices[i]]);
}

/**
 * Per image of `indices`: robust to every restart of `attack` (false where `standing` is false).
 * Restart r draws its random start from seed + r, keyed by the image's position among the survivors,
 * so restarts from..restarts−1, given the flags after restarts 0..from−1 as `standing`, continue a
 * shorter run into exactly what one run of `attack.restarts` restarts gives.
 */
export async function robustToAttack(t: AttackTarget, indices: number[], standing: boolean[], attack: ClassifierAttack, onRestart?: (restart: number, standing: number) => void, from = 0): Promise<boolean[]> {
  const robust = [...standing];
  for (let r = from; r < attack.restarts; r++) {
    const standing = indices.filter((_, i) => robust[i]);
    onRestart?.(r, standing.length);
    if (!standing.length) break;
    const seed = t.seed + r;
    const predicted = await predictIndices(t, standing, async (x, rows) => {
      const labels = rows.map((img) => t.labels[img]);
      const first = standing.indexOf(rows[0]);
      if (attack.kind === 'pgd') {
        const grad = classifierGradient(t.classifier, labels, 'ce');
        return pgd(x, grad, { norm: 'linf', eps: t.eps, steps: attack.steps, stepSize: attack.stepSize, randomStart: true, seed, firstIndex: first });
      }
      const grad = classifierGradient(t.classifier, labels, attack.kind === 'apgd-ce' ? 'ce' : 'dlr');
      return apgd(x, labels, grad, { norm: 'linf', eps: t.eps, steps: attack.steps, seed, firstIndex: first });
    });
    const fooled = new Set(standing.filter((img, i) => predicted[i] !== t.labels[img]));
    indices.forEach((img, i) => fooled.has(img) && (robust[i] = false));
  }
  return robust;
}
