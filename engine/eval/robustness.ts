// Robust accuracy of a bare classifier under PGD, in batches.
import { fromArray } from '../ops/index.ts';
import { classifierGradient } from '../attacks/objectives.ts';
import { pgd, type PgdOptions } from '../attacks/pgd.ts';
import type { Classifier } from '../models/types.ts';
import type { Engine } from '../runtime.ts';
import { argmaxRows } from './predict.ts';

export async function pgdAccuracy(
  engine: Engine,
  classifier: Classifier,
  images: Float32Array,
  labels: ArrayLike<number>,
  n: number,
  opts: PgdOptions,
  batch = 100,
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  const [c, h, w] = classifier.imageShape;
  const per = c * h * w;
  let correct = 0;
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const y = Array.from({ length: count }, (_, i) => labels[start + i]);
    correct += await engine.scopeAsync(async () => {
      const x = fromArray(engine, images.subarray(start * per, (start + count) * per), [count, c, h, w], 'images');
      const adv = await pgd(x, classifierGradient(classifier, y), { ...opts, firstIndex: start });
      const predicted = argmaxRows(await classifier.logits(adv).read(), classifier.classes);
      adv.dispose();
      return predicted.filter((p, i) => p === y[i]).length;
    });
    onProgress?.(start + count, n);
  }
  return correct / n;
}
