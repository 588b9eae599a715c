// Projected gradient ascent (Madry et al.) on any differentiable objective: the caller supplies
// the gradient, so the same loop serves plain PGD, EOT averages, BPDA and full-gradient attacks.
import { add, affine, div, full, maximum, randomUniform, reshape, scale, sign } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';
import type { GradientFn } from './objectives.ts';
import { project, rowNorms, type Norm } from './project.ts';

export interface PgdOptions {
  norm: Norm;
  eps: number;
  steps: number;
  /** Step size α (default 2.5·ε/steps, Madry et al.'s rule). */
  stepSize?: number;
  randomStart?: boolean;
  seed?: number;
  firstIndex?: number;
  onStep?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** The ascent direction for one step: the sign for L∞, the per-image unit gradient for L2. */
export function ascentDirection(norm: Norm, g: Tensor): Tensor {
  if (norm === 'linf') return sign(g);
  const n = g.shape[0];
  const flat = reshape(g, [n, -1]);
  return reshape(div(flat, maximum(rowNorms(flat), full(g.engine, [n, 1], 1e-12))), g.shape);
}

export async function pgd(x: Tensor, gradient: GradientFn, opts: PgdOptions): Promise<Tensor> {
  const engine = x.engine;
  const alpha = opts.stepSize ?? (2.5 * opts.eps) / opts.steps;
  let xAdv = engine.keep(
    engine.scope(() => {
      if (!opts.randomStart) return affine(x, 1, 0);
      const start = randomUniform(engine, x.shape, { seed: opts.seed ?? 0, stream: 0x7fff0000, firstRow: opts.firstIndex ?? 0 });
      // L2 starts inside the ball too: a uniform box scaled so its worst case has norm ε.
      const radius = opts.norm === 'linf' ? opts.eps : opts.eps / Math.sqrt(x.size / x.shape[0]);
      return project(opts.norm, add(x, scale(start, radius)), x, opts.eps);
    }),
  );
  for (let step = 0; step < opts.steps; step++) {
    opts.signal?.throwIfAborted();
    const { grad: g } = await gradient(xAdv, step);
    const next = engine.scope(() => project(opts.norm, add(xAdv, scale(ascentDirection(opts.norm, g), alpha)), x, opts.eps));
    g.dispose();
    xAdv.dispose();
    xAdv = engine.keep(next);
    opts.onStep?.(step + 1, opts.steps);
    await engine.sync();
  }
  return xAdv;
}

