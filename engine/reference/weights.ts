// Named float64 weights for the model references, and the layers that only read them by name.
import { binary, matmul } from './elementwise.ts';
import type { Nd } from './nd.ts';

export type Weights = ReadonlyMap<string, Nd>;

export const add = (a: Nd, b: Nd) => binary(a, b, (x, y) => x + y);

export function weight(w: Weights, name: string): Nd {
  const t = w.get(name);
  if (!t) throw new Error(`reference: no weight ${name}`);
  return t;
}

/** y = x·Wᵀ + b with PyTorch's [out, in] weight layout. */
export const linear = (w: Weights, name: string, x: Nd) => add(matmul(x, weight(w, `${name}.weight`), false, true), weight(w, `${name}.bias`));
