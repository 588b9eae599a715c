// Square Attack, L∞ (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020): a black-box random search
// that sees only logits. It starts from vertical stripes of ±ε and, per query, proposes to set one
// random square window to a fresh ±ε per channel, keeping the proposal when it lowers the margin
// z_y − max_{j≠y} z_j. The window covers a fraction p of the pixels, halved on the authors' fixed
// schedule over the query budget (p_init 0.8, their MNIST and AutoAttack setting). An image stops
// once its margin is negative (fooled). As a sanity row it bounds what gradient attacks should
// reach: a defence that falls to Square but not to white-box attacks masks its gradients.
// Randomness is on the CPU, one Philox stream per image keyed by its global index, so results do
// not depend on the batch split.
import { cpuUniformStream } from '../ops/random.ts';
import { fromArray } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';

export interface SquareOptions {
  eps: number;
  /** Logit queries per image, the start included. */
  queries: number;
  /** The initial fraction of pixels a window covers. */
  pInit?: number;
  seed?: number;
  firstIndex?: number;
  onStep?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** [N, K] logits of a batch; `query` numbers the call, so a randomised target can draw fresh noise. */
export type LogitQuery = (x: Tensor, query: number) => Promise<Float32Array>;

const STREAM = 0x5a0e0000;

/** The authors' piecewise-constant schedule of p over the fraction of the budget spent. */
export function windowFraction(pInit: number, iteration: number, budget: number): number {
  const it = Math.floor((iteration / budget) * 10000);
  const bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  if (it > 10000) return pInit;
  return pInit / 2 ** bounds.filter((b) => it > b).length;
}

/** Per image z_y − max_{j≠y} z_j: negative once the image is misclassified. */
export function margins(logits: Float32Array, labels: ArrayLike<number>, classes: number): Float64Array {
  return Float64Array.from({ length: logits.length / classes }, (_, i) => {
    const z = logits.subarray(i * classes, (i + 1) * classes);
    let other = -Infinity;
    for (let j = 0; j < classes; j++) if (j !== labels[i] && z[j] > other) other = z[j];
    return z[labels[i]] - other;
  });
}

export async function square(x: Tensor, labels: ArrayLike<number>, query: LogitQuery, opts: SquareOptions): Promise<Tensor> {
  if (x.shape.length !== 4) throw new RangeError(`square: images must be N×C×H×W, got [${x.shape}]`);
  const { eps, queries } = opts;
  if (!(eps >= 0) || !Number.isInteger(queries) || queries < 1) throw new RangeError(`square: needs ε ≥ 0 and a positive query budget, got ε = ${eps}, ${queries} queries`);
  const engine = x.engine;
  const [n, c, h, w] = x.shape;
  const per = c * h * w;
  const clean = await x.read();
  // With ε = 0 every proposal equals the start, and the window search below would never end.
  if (eps === 0) return fromArray(engine, clean, x.shape, 'square');
  const pInit = opts.pInit ?? 0.8;
  const streams = Array.from({ length: n }, (_, i) => cpuUniformStream({ seed: opts.seed ?? 0, stream: STREAM, firstRow: (opts.firstIndex ?? 0) + i }));
  const signOf = (i: number) => (streams[i]() < 0.5 ? -eps : eps);
  const shifted = (j: number, delta: number) => Math.fround(Math.min(Math.max(clean[j] + delta, 0), 1));
  const ask = async (images: Float32Array, q: number) => {
    const t = fromArray(engine, images, x.shape, 'square query');
    try {
      const logits = await query(t, q);
      return margins(logits, labels, logits.length / n);
    } finally {
      t.dispose();
    }
  };

  // Vertical stripes: one sign per channel and column.
  const best = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let col = 0; col < w; col++) {
        const delta = signOf(i);
        for (let row = 0; row < h; row++) {
          const j = i * per + ch * h * w + row * w + col;
          best[j] = shifted(j, delta);
        }
      }
    }
  }
  const bestMargin = await ask(best, 0);
  for (let q = 1; q < queries && bestMargin.some((m) => m > 0); q++) {
    opts.signal?.throwIfAborted();
    const side = Math.min(Math.max(Math.round(Math.sqrt(windowFraction(pInit, q - 1, queries) * h * w)), 1), h - 1);
    const proposal = Float32Array.from(best);
    for (let i = 0; i < n; i++) {
      if (bestMargin[i] <= 0) continue;
      const top = Math.floor(streams[i]() * (h - side));
      const left = Math.floor(streams[i]() * (w - side));
      // Redraw the window's signs until the proposal differs from the current best somewhere.
      for (let changed = false; !changed; ) {
        for (let ch = 0; ch < c; ch++) {
          const delta = signOf(i);
          for (let row = top; row < top + side; row++) {
            for (let col = left; col < left + side; col++) {
              const j = i * per + ch * h * w + row * w + col;
              proposal[j] = shifted(j, delta);
              changed ||= Math.abs(proposal[j] - best[j]) >= 1e-7;
            }
          }
        }
      }
    }
    const margin = await ask(proposal, q);
    for (let i = 0; i < n; i++) {
      if (bestMargin[i] <= 0 || !(margin[i] < bestMargin[i])) continue;
      bestMargin[i] = margin[i];
      best.set(proposal.subarray(i * per, (i + 1) * per), i * per);
    }
    opts.onStep?.(q, queries - 1);
  }
  return fromArray(engine, best, x.shape, 'square');
}
