// Batched classification of images held on the CPU: upload a batch, argmax the logits, free.
import { fromArray } from '../ops/index.ts';
import type { Classifier } from '../models/types.ts';
import type { Engine } from '../runtime.ts';

export function argmaxRows(logits: Float32Array, k: number): number[] {
  const n = logits.length / k;
  return Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    return best;
  });
}

export async function predictAll(
  engine: Engine,
  classifier: Classifier,
  images: Float32Array,
  n: number,
  batch = 100,
  onProgress?: (done: number, total: number) => void,
): Promise<number[]> {
  const [c, h, w] = classifier.imageShape;
  const per = c * h * w;
  if (images.length < n * per) throw new RangeError(`predict: ${images.length} values for ${n} images of ${c}×${h}×${w}`);
  const out: number[] = [];
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const logits = await engine.scopeAsync(async () => {
      const x = fromArray(engine, images.subarray(start * per, (start + count) * per), [count, c, h, w], 'images');
      return classifier.logits(x).read();
    });
    out.push(...argmaxRows(logits, classifier.classes));
    onProgress?.(start + count, n);
  }
  return out;
}

export const accuracy = (predicted: number[], labels: ArrayLike<number>) => predicted.filter((p, i) => p === labels[i]).length / predicted.length;
