// Float64 reference for SSIM as pytorch_ssim defines it (11×11 Gaussian window of σ = 1.5, zero
// padding 5, every channel filtered on its own, C1 = 0.01², C2 = 0.03²), pixel by pixel, and GDMP's
// guidance value: the sum over images of each image's mean SSIM. Gradients are checked against
// finite differences of these values.
import { conv2d } from './conv.ts';
import { nd, type Nd } from './nd.ts';

const WINDOW = 11;
const SIGMA = 1.5;
const C1 = 0.01 ** 2;
const C2 = 0.03 ** 2;

function gaussianWindow(): Nd {
  const g = Array.from({ length: WINDOW }, (_, i) => Math.exp(-((i - (WINDOW - 1) / 2) ** 2) / (2 * SIGMA ** 2)));
  const total = g.reduce((a, b) => a + b, 0);
  const w = nd([1, 1, WINDOW, WINDOW]);
  for (let r = 0; r < WINDOW; r++) for (let c = 0; c < WINDOW; c++) w.data[r * WINDOW + c] = (g[r] / total) * (g[c] / total);
  return w;
}

/** The SSIM map of x and y [N, C, H, W]. */
export function ssimMap(x: Nd, y: Nd): Nd {
  const [N, C, H, W] = x.shape;
  const window = gaussianWindow();
  const blur = (values: Float64Array) => conv2d(nd([N * C, 1, H, W], values), window, undefined, { padding: (WINDOW - 1) / 2 }).data;
  const muX = blur(x.data);
  const muY = blur(y.data);
  const eXX = blur(x.data.map((v) => v * v));
  const eYY = blur(y.data.map((v) => v * v));
  const eXY = blur(x.data.map((v, i) => v * y.data[i]));
  return nd(x.shape, Array.from(muX, (mx, i) => {
    const my = muY[i];
    const varX = eXX[i] - mx * mx;
    const varY = eYY[i] - my * my;
    const cov = eXY[i] - mx * my;
    return ((2 * mx * my + C1) * (2 * cov + C2)) / ((mx * mx + my * my + C1) * (varX + varY + C2));
  }));
}

/** Each image's mean SSIM over its C·H·W pixels. */
export function ssimPerImage(x: Nd, y: Nd): number[] {
  const map = ssimMap(x, y);
  const per = map.data.length / x.shape[0];
  return Array.from({ length: x.shape[0] }, (_, n) => map.data.subarray(n * per, (n + 1) * per).reduce((a, v) => a + v, 0) / per);
}

/** GDMP's SSIM guidance G(x) = Σ_n mean SSIM(x[n], y[n]). */
export const ssimGuidance = (x: Nd, y: Nd): number => ssimPerImage(x, y).reduce((a, v) => a + v, 0);
