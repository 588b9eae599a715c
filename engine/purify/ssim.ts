// SSIM as pytorch_ssim computes it (GDMP's guidance distance), composed from differentiable engine
// ops so a tape gives its gradient: local statistics under an 11×11 Gaussian window (σ = 1.5) with
// zero padding 5, each channel of each image filtered on its own.
//
// C1 = (0.01·L)² and C2 = (0.03·L)² with L = 1, pytorch_ssim's constants, assume images of dynamic
// range 1 ([0, 1]). GDMP applies them unchanged in the diffusion model's space, and so do we, to
// stay its baseline: right for a 'unit' model such as the shipped MNIST one; for a 'symmetric'
// ([−1, 1], L = 2) model the constants weigh 4× less against the local statistics than SSIM's
// definition intends. Either way x_t itself carries noise of variance 1 − ᾱ_t, so it spreads beyond
// the data range the constants were chosen for.
import { add, affine, conv2d, div, fromArray, mean, mul, reshape, square, sub } from '../ops/index.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';

const WINDOW = 11;
const SIGMA = 1.5;
const C1 = 0.01 ** 2;
const C2 = 0.03 ** 2;

/** The normalised 2-D Gaussian window as a conv weight [1, 1, WINDOW, WINDOW]. */
function gaussianWindow(engine: Engine): Tensor {
  const half = (WINDOW - 1) / 2;
  const g = Array.from({ length: WINDOW }, (_, i) => Math.exp(-((i - half) ** 2) / (2 * SIGMA * SIGMA)));
  const total = g.reduce((a, b) => a + b, 0);
  const w = g.flatMap((gy) => g.map((gx) => (gy * gx) / (total * total)));
  return fromArray(engine, w, [1, 1, WINDOW, WINDOW], 'ssim window');
}

/** The SSIM map of x and y [N, C, H, W], same shape. */
export function ssimMap(x: Tensor, y: Tensor): Tensor {
  const [N, C, H, W] = x.shape;
  const window = gaussianWindow(x.engine);
  // Every channel of every image as its own one-channel image, so one [1, 1, k, k] weight filters all.
  const planes = (t: Tensor) => reshape(t, [N * C, 1, H, W]);
  const blur = (t: Tensor) => conv2d(t, window, undefined, { padding: (WINDOW - 1) / 2 });
  const xs = planes(x);
  const ys = planes(y);
  const muX = blur(xs);
  const muY = blur(ys);
  const muXX = square(muX);
  const muYY = square(muY);
  const muXY = mul(muX, muY);
  const varX = sub(blur(square(xs)), muXX);
  const varY = sub(blur(square(ys)), muYY);
  const cov = sub(blur(mul(xs, ys)), muXY);
  const numerator = mul(affine(muXY, 2, C1), affine(cov, 2, C2));
  const denominator = mul(affine(add(muXX, muYY), 1, C1), affine(add(varX, varY), 1, C2));
  return reshape(div(numerator, denominator), [N, C, H, W]);
}

/** Mean SSIM of each image pair [N]: the map averaged over that image's C·H·W pixels. */
export const ssimPerImage = (x: Tensor, y: Tensor): Tensor => mean(ssimMap(x, y), [1, 2, 3]);
