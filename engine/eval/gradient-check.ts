// Finite-difference check of the gradient an attack follows, against the function the defence
// actually computes (Carlini et al. 2019, §5: masked or obfuscated gradients show up as a gradient
// that does not predict the loss). Per image, at a random point of the ε-ball (where attacks start
// and the loss is not saturated as at the clean image), under one fixed noise draw, the directional
// derivative ⟨g, v⟩ is compared with the central difference (L(x + hv) − L(x − hv)) / 2h of the
// scored pipeline's loss along two unit directions: ĝ itself (a gradient of the wrong size or
// direction, e.g. a quantiser passed straight through, fails here) and a random v (a zero gradient,
// where ĝ does not exist, fails here). The error |⟨g, v⟩ − fd| / max(‖g‖, |fd|, floor) lies in
// [0, 2]: ‖g‖ bounds any directional derivative, so a direction nearly orthogonal to g does not
// inflate f32 noise, and a loss that moves while g is zero scores 1. Where ‖g‖ and |fd| are both
// below the floor the loss is flat as far as f32 resolves it (a purified image clamped whole, a
// saturated classifier: test seed 1979380791 had ‖g‖ 1.1e-6 and fd 6.5e-10, the loss moving 2e-8 over
// 2h, a third of an f32 ulp at order 1) and the image scores 0. A step that straddles a kink (ReLU,
// max-pool, the purifier's clamp, DLR's class ranking near the decision boundary) is retried at h/4,
// h/16 and h/64, each four times less likely to straddle one, and one-sided differences are tried
// beside the central one (a kink on one side of the point leaves the other side's exact). h/64 is
// for curvature, not kinks: DLR's ratio bends like 1/(z_π1 − z_π3)³ where its denominator is small
// (test seed 316764360: an honest MLP gradient was off by 1.3 % at h/16 and 2.5e-4 at h/64).
import type { LogitLoss } from '../attacks/objectives.ts';
import { logitLoss } from '../attacks/objectives.ts';
import type { NoiseDraw } from '../purify/defended.ts';
import type { Norm } from '../attacks/project.ts';
import type { AttackTarget, Estimator } from '../attacks/target.ts';
import { fromArray } from '../ops/index.ts';
import { cpuUniformStream } from '../ops/random.ts';
import type { Engine } from '../runtime.ts';

export interface GradientCheckOptions {
  norm: Norm;
  eps: number;
  estimator: Estimator;
  loss: LogitLoss;
  seed: number;
  /** Central-difference step along a unit direction (default 1e-2; h/4, h/16 and h/64 are the retries). */
  h?: number;
  /** ‖g‖ and |fd| both below this count as a flat loss (default 1e-4, for a loss of order 1 like DLR). */
  floor?: number;
}

export interface GradientCheckResult {
  /** Per image, the worse of its two directions' errors (each the best over the steps). */
  errors: number[];
  gradNorms: number[];
  /** Per image and direction (ĝ, random): ⟨g, v⟩ and the accepted difference. */
  directional: [number, number][];
  differences: [number, number][];
}

const STREAM = 0x6d0f0000;

/** Unit vector per image (rows of length `per`); a zero row is left zero. */
function normalise(v: Float32Array, per: number): { unit: Float32Array; norms: number[] } {
  const unit = new Float32Array(v.length);
  const norms: number[] = [];
  for (let i = 0; i < v.length / per; i++) {
    const row = v.subarray(i * per, (i + 1) * per);
    const norm = Math.hypot(...row);
    norms.push(norm);
    if (norm > 0) row.forEach((x, j) => (unit[i * per + j] = x / norm));
  }
  return { unit, norms };
}

/** The check on a batch of images (labels per image); `firstIndex` keys the random points and directions. */
export async function gradientCheck(engine: Engine, target: AttackTarget, images: Float32Array, labels: ArrayLike<number>, firstIndex: number, opts: GradientCheckOptions): Promise<GradientCheckResult> {
  const [c, h, w] = target.imageShape;
  const per = c * h * w;
  const n = images.length / per;
  const shape = [n, c, h, w];
  const step = opts.h ?? 1e-2;
  const floor = opts.floor ?? 1e-4;
  const draw: NoiseDraw = { seed: opts.seed, repeat: 1, firstIndex };
  const streams = Array.from({ length: n }, (_, i) => cpuUniformStream({ seed: opts.seed, stream: STREAM, firstRow: firstIndex + i }));
  // PGD's random start: uniform in the ε-box, scaled for L2 so the worst case has norm ε.
  const radius = opts.norm === 'linf' ? opts.eps : opts.eps / Math.sqrt(per);
  const point = Float32Array.from(images, (v, j) => Math.min(Math.max(v + radius * (2 * streams[Math.floor(j / per)]() - 1), 0), 1));
  const random = normalise(Float32Array.from(images, (_, j) => 2 * streams[Math.floor(j / per)]() - 1), per).unit;

  const sample = await engine.scopeAsync(async () => {
    const r = await target.sample(opts.estimator, labels, opts.loss)(fromArray(engine, point, shape, 'gradient check'), draw);
    return r.grad.read();
  });
  const { unit: along, norms } = normalise(sample, per);
  const lossAt = async (x: Float32Array) => {
    const logits = await engine.scopeAsync(() => target.logits(fromArray(engine, x, shape, 'gradient check'), draw));
    return logitLoss(opts.loss, logits, labels, target.classes).loss;
  };
  const directions = [Float32Array.from(along, (v, j) => (norms[Math.floor(j / per)] > 0 ? v : random[j])), random];
  const errors = new Array<number>(n).fill(0);
  const directional: [number, number][] = Array.from({ length: n }, () => [0, 0]);
  const differences: [number, number][] = Array.from({ length: n }, () => [0, 0]);
  const centre = await lossAt(point);
  for (const [d, v] of directions.entries()) {
    const best = new Array<number>(n).fill(Infinity);
    for (const hd of [step, step / 4, step / 16, step / 64]) {
      const plus = await lossAt(point.map((x, j) => x + hd * v[j]));
      const minus = await lossAt(point.map((x, j) => x - hd * v[j]));
      for (let i = 0; i < n; i++) {
        let analytic = 0;
        for (let j = i * per; j < (i + 1) * per; j++) analytic += sample[j] * v[j];
        // Central, then one-sided: a kink on one side leaves the other side's difference exact.
        for (const fd of [(plus[i] - minus[i]) / (2 * hd), (plus[i] - centre[i]) / hd, (centre[i] - minus[i]) / hd]) {
          const scale = Math.max(norms[i], Math.abs(fd));
          const err = scale < floor ? 0 : Math.abs(analytic - fd) / scale;
          if (err < best[i]) {
            best[i] = err;
            directional[i][d] = analytic;
            differences[i][d] = fd;
          }
        }
      }
    }
    best.forEach((e, i) => (errors[i] = Math.max(errors[i], e)));
  }
  return { errors, gradNorms: norms, directional, differences };
}
