// A short content hash of a model's parameter values, so reports name the exact weights they measured
// (file names alone do not: retraining keeps the name).
import { createHash } from 'node:crypto';
import type { Params } from '../../engine/nn/params.ts';

/** The full hex sha256 of bytes or text: how reports, cards and training metadata name a weight file. */
export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

export async function fingerprint(params: Params): Promise<string> {
  const hash = createHash('sha256');
  for (const [name, t] of await params.toTensorMap()) hash.update(name).update(t.data as Float32Array);
  return `sha256 ${hash.digest('hex').slice(0, 12)}`;
}
