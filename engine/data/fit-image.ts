// Brings any raster to a model's input shape: colour to gray (channel mean) or gray to RGB, and a
// bilinear resize. Only on request (`fit`): silently reshaping would hide a wrong input.
import type { RasterImage } from './png.ts';

/** Planar C×H×W floats in [0, 1] with `c` channels, resized to h×w. Alpha is dropped. */
export function fitRaster(image: RasterImage, [c, h, w]: readonly [number, number, number]): Float32Array {
  const colors = image.channels >= 3 ? 3 : 1;
  const src = (x: number, y: number, ch: number) => {
    const at = (y * image.width + x) * image.channels;
    if (c === 1 && colors === 3) return (image.data[at] + image.data[at + 1] + image.data[at + 2]) / 3;
    return image.data[at + (colors === 3 ? ch : 0)];
  };
  const out = new Float32Array(c * h * w);
  // Pixel centres map onto pixel centres, so an unscaled image comes out unchanged.
  const sx = image.width / w;
  const sy = image.height / h;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), image.height - 1);
      const y0 = Math.floor(fy);
      const y1 = Math.min(y0 + 1, image.height - 1);
      for (let x = 0; x < w; x++) {
        const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), image.width - 1);
        const x0 = Math.floor(fx);
        const x1 = Math.min(x0 + 1, image.width - 1);
        const top = src(x0, y0, ch) + (src(x1, y0, ch) - src(x0, y0, ch)) * (fx - x0);
        const bottom = src(x0, y1, ch) + (src(x1, y1, ch) - src(x0, y1, ch)) * (fx - x0);
        out[(ch * h + y) * w + x] = (top + (bottom - top) * (fy - y0)) / 255;
      }
    }
  }
  return out;
}
