// Bridges GPU tensors and float64 references: upload an Nd, read one back, random f32-exact inputs.
import type { Engine, Tensor } from '../../engine/index.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { nd, type Nd } from '../../engine/reference/nd.ts';
import { randn } from './check.ts';

export const upload = (engine: Engine, x: Nd): Tensor => fromArray(engine, Float32Array.from(x.data), x.shape);

export async function download(t: Tensor): Promise<Nd> {
  return nd([...t.shape], await t.read());
}

/** Gaussian values rounded to f32, so the GPU sees exactly the reference's inputs. */
export function randomNd(random: () => number, shape: number[], scale = 1): Nd {
  return nd(shape, randn(random, shape.reduce((a, b) => a * b, 1), scale).map(Math.fround));
}
