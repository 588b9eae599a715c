// Bridges GPU tensors and float64 references: upload Nd, read back, and gradient checks.
import type { Engine, Tensor } from '../../engine/index.ts';
import { valueAndGrad } from '../../engine/index.ts';
import { fromArray, mul, sum } from '../../engine/ops/index.ts';
import { nd, type Nd } from '../../engine/reference/nd.ts';
import { assertClose, randn, type CloseReport } from './check.ts';

export const upload = (engine: Engine, x: Nd): Tensor => fromArray(engine, Float32Array.from(x.data), x.shape);

export async function download(t: Tensor): Promise<Nd> {
  return nd([...t.shape], await t.read());
}

/** Gaussian values rounded to f32, so the GPU sees exactly the reference's inputs. */
export function randomNd(random: () => number, shape: number[], scale = 1): Nd {
  return nd(shape, randn(random, shape.reduce((a, b) => a * b, 1), scale).map(Math.fround));
}

/**
 * Checks the GPU gradients of sum(f(inputs) ⊙ w) for a random weighting w against the float64
 * reference gradients `expected` (one per input).
 */
export async function checkGrads(
  engine: Engine,
  name: string,
  inputs: Nd[],
  f: (ts: Tensor[]) => Tensor,
  weight: Nd,
  expected: Nd[],
  tol = 1e-4,
): Promise<CloseReport[]> {
  const ts = inputs.map((x) => upload(engine, x));
  const w = upload(engine, weight);
  const { value, grads } = valueAndGrad(engine, () => sum(mul(f(ts), w)), ts);
  const reports: CloseReport[] = [];
  for (let i = 0; i < ts.length; i++) {
    reports.push(assertClose(`${name} d/d input ${i}`, await grads[i].read(), expected[i].data, tol));
  }
  for (const t of [...ts, w, value, ...grads]) t.dispose();
  return reports;
}
