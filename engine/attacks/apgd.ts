// APGD (Croce & Hein, ICML 2020; AutoAttack's apgd-ce / apgd-dlr): projected gradient ascent with
// momentum 0.75 and a per-image step size that starts at 2ε and halves at checkpoints when the
// loss oscillates (it rose in at most ρ = 75 % of the steps since the last checkpoint) or when
// the previous checkpoint kept the step and the best loss has not improved since; a halving
// restarts the image from its best point and gradient. Checkpoint intervals follow AutoAttack's
// code: 22 % of the iterations, shrinking by 3 % per checkpoint down to 6 %. With an EOT
// GradientFn this is AutoAttack's "rand" flavour.
// Returns, per image, the last iterate the attack saw misclassified, or else its highest-loss point.
import { argmaxRows } from '../eval/predict.ts';
import { add, affine, fromArray, mul, randomNormal, randomUniform, scale, sub } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import type { GradientFn } from './objectives.ts';
import { ascentDirection } from './pgd.ts';
import { project, type Norm } from './project.ts';

export interface ApgdOptions {
  norm: Norm;
  eps: number;
  /** Iterations after the start point (the start costs one more gradient query). */
  steps: number;
  momentum?: number;
  rho?: number;
  seed?: number;
  firstIndex?: number;
  onStep?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** [N, 1, 1, 1] per-image values, to scale or select whole images. */
const perImage = (like: Tensor, values: ArrayLike<number>) => fromArray(like.engine, values, [like.shape[0], ...like.shape.slice(1).map(() => 1)], 'per-image');

/** Image i of `a` where mask[i], else of `b`. */
function selectImages(mask: boolean[], a: Tensor, b: Tensor): Tensor {
  const m = perImage(a, mask.map(Number));
  return add(mul(a, m), mul(b, affine(m, -1, 1)));
}

/** A start drawn uniformly from the ε-box (L∞) or on the ε-sphere (L2), then clipped to the image box. */
function randomStart(x: Tensor, opts: ApgdOptions): Tensor {
  const key = { seed: opts.seed ?? 0, stream: 0x7ffe0000, firstRow: opts.firstIndex ?? 0 };
  const offset = opts.norm === 'linf' ? randomUniform(x.engine, x.shape, key) : ascentDirection('l2', randomNormal(x.engine, x.shape, key));
  return project(opts.norm, add(x, scale(offset, opts.eps)), x, opts.eps);
}

/** Replaces a kept tensor by another, disposing the old one. */
function swap(engine: Engine, old: Tensor, next: Tensor): Tensor {
  old.dispose();
  return engine.keep(next);
}

export async function apgd(x: Tensor, labels: ArrayLike<number>, gradient: GradientFn, opts: ApgdOptions): Promise<Tensor> {
  const engine = x.engine;
  const n = x.shape[0];
  const momentum = opts.momentum ?? 0.75;
  const rho = opts.rho ?? 0.75;
  const total = opts.steps;
  const minInterval = Math.max(Math.floor(0.06 * total), 1);
  const shrink = Math.max(Math.floor(0.03 * total), 1);
  let interval = Math.max(Math.floor(0.22 * total), 1);
  const stepSize = new Float64Array(n).fill(2 * opts.eps);

  let xAdv = engine.keep(engine.scope(() => randomStart(x, opts)));
  const first = await gradient(xAdv, 0);
  let grad = engine.keep(first.grad);
  const fooledAt = (logits: Float32Array) => argmaxRows(logits, logits.length / n).map((p, i) => p !== labels[i]);
  const everFooled = fooledAt(first.logits);
  let xFooled = engine.keep(affine(xAdv, 1, 0));
  let xBest = engine.keep(affine(xAdv, 1, 0));
  let gradBest = engine.keep(affine(grad, 1, 0));
  let xPrev = engine.keep(affine(xAdv, 1, 0));
  const lossBest = Float64Array.from(first.loss);
  let lossPrev = Float64Array.from(first.loss);
  let lossBestAtCheck = Float64Array.from(first.loss);
  let reducedAtCheck = new Array<boolean>(n).fill(false);
  let increases = new Uint32Array(n);
  let sinceCheck = 0;
  try {
    for (let i = 0; i < total; i++) {
      opts.signal?.throwIfAborted();
      const a = i > 0 ? momentum : 1;
      const next = engine.scope(() => {
        const eta = perImage(x, stepSize);
        const z = project(opts.norm, add(xAdv, mul(ascentDirection(opts.norm, grad), eta)), x, opts.eps);
        // x + a·(z − x) + (1 − a)·(x − x_prev)
        const moved = add(add(xAdv, scale(sub(z, xAdv), a)), scale(sub(xAdv, xPrev), 1 - a));
        return project(opts.norm, moved, x, opts.eps);
      });
      xPrev = swap(engine, xPrev, xAdv);
      xAdv = engine.keep(next);
      const r = await gradient(xAdv, i + 1);
      grad = swap(engine, grad, r.grad);

      const fooled = fooledAt(r.logits);
      if (fooled.some(Boolean)) xFooled = swap(engine, xFooled, engine.scope(() => selectImages(fooled, xAdv, xFooled)));
      fooled.forEach((f, j) => (everFooled[j] ||= f));
      const improved = Array.from(r.loss, (v, j) => v > lossBest[j]);
      if (improved.some(Boolean)) {
        xBest = swap(engine, xBest, engine.scope(() => selectImages(improved, xAdv, xBest)));
        gradBest = swap(engine, gradBest, engine.scope(() => selectImages(improved, grad, gradBest)));
      }
      r.loss.forEach((v, j) => {
        if (v > lossPrev[j]) increases[j]++;
        if (v > lossBest[j]) lossBest[j] = v;
      });
      lossPrev = Float64Array.from(r.loss);

      if (++sinceCheck === interval) {
        const reduce = Array.from({ length: n }, (_, j) => increases[j] <= rho * interval || (!reducedAtCheck[j] && lossBestAtCheck[j] >= lossBest[j]));
        if (reduce.some(Boolean)) {
          reduce.forEach((r2, j) => r2 && (stepSize[j] /= 2));
          xAdv = swap(engine, xAdv, engine.scope(() => selectImages(reduce, xBest, xAdv)));
          grad = swap(engine, grad, engine.scope(() => selectImages(reduce, gradBest, grad)));
        }
        reducedAtCheck = reduce;
        lossBestAtCheck = Float64Array.from(lossBest);
        increases = new Uint32Array(n);
        sinceCheck = 0;
        interval = Math.max(interval - shrink, minInterval);
      }
      opts.onStep?.(i + 1, total);
      await engine.sync();
    }
    return engine.keep(engine.scope(() => selectImages(everFooled, xFooled, xBest)));
  } finally {
    for (const t of [xAdv, grad, xFooled, xBest, gradBest, xPrev]) t.dispose();
  }
}
