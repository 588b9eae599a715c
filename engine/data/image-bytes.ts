// Encoded image bytes <-> planar float images (C×H×W in [0, 1]), without the file system, so the
// browser bundle shares it with Node.
import jpeg from 'jpeg-js';
import { checkPixelLimit, decodePng, encodePng, ImageFormatError, ImageTooLargeError, type DecodeLimits, type RasterImage } from './png.ts';

export class InvalidImageError extends Error {
  override name = 'InvalidImageError';
}

/** Gray or RGB; alpha is dropped on reading because the models never see it. */
export interface PlanarImage {
  data: Float32Array;
  c: 1 | 3;
  h: number;
  w: number;
}

const MAX_REPORTED_PIXELS = 5;

/** Decodes PNG or baseline JPEG, told apart by their signatures. */
export function decodeImageBytes(bytes: Uint8Array, source = 'image', limits: DecodeLimits = {}): RasterImage {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    let image: RasterImage;
    try {
      const maxResolutionInMP = limits.maxPixels === undefined ? undefined : limits.maxPixels / 1e6;
      const { width, height, data } = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP });
      image = { width, height, channels: 3, data };
    } catch (err) {
      throw new ImageFormatError(`${source}: corrupt or too large JPEG: ${(err as Error).message ?? err}`);
    }
    checkPixelLimit(image.width, image.height, limits);
    return image;
  }
  try {
    return decodePng(bytes, limits);
  } catch (err) {
    if (!(err instanceof ImageFormatError)) throw err;
    const Kind = err instanceof ImageTooLargeError ? ImageTooLargeError : ImageFormatError;
    throw new Kind(`${source}: ${err.message}`, { cause: err });
  }
}

/** Color channels of an interleaved image without alpha: 1 for gray (+alpha), 3 for RGB(A). */
export function colorChannels(image: RasterImage): 1 | 3 {
  return image.channels <= 2 ? 1 : 3;
}

/**
 * Writes the color channels of `image` as planar floats in [0, 1] into `out` at `offset`,
 * so a dataset loader can fill one big N×C×H×W buffer without copies.
 */
export function toPlanarFloat(image: RasterImage, out?: Float32Array, offset = 0): Float32Array {
  const { width, height, channels, data } = image;
  const c = colorChannels(image);
  const plane = width * height;
  const target = out ?? new Float32Array(c * plane);
  for (let ch = 0; ch < c; ch++) {
    const base = offset + ch * plane;
    for (let p = 0; p < plane; p++) target[base + p] = data[p * channels + ch] / 255;
  }
  return target;
}

function describePixel(index: number, h: number, w: number): string {
  const c = Math.floor(index / (h * w));
  const y = Math.floor((index % (h * w)) / w);
  return `index ${index} (c=${c}, y=${y}, x=${index % w})`;
}

/** Throws unless `data` has shape [c, h, w] and every value is a finite number in [0, 1]. */
export function assertValidImage(data: Float32Array, expectedShape: readonly [c: number, h: number, w: number]): void {
  const [c, h, w] = expectedShape;
  if (data.length !== c * h * w) {
    throw new InvalidImageError(`image has ${data.length} values, shape [${expectedShape.join(', ')}] needs ${c * h * w}`);
  }
  const problems: string[] = [];
  let badCount = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v >= 0 && v <= 1) continue;
    badCount++;
    if (problems.length < MAX_REPORTED_PIXELS) problems.push(`${describePixel(i, h, w)} = ${v}`);
  }
  if (badCount > 0) {
    const more = badCount > problems.length ? `, and ${badCount - problems.length} more` : '';
    throw new InvalidImageError(`${badCount} pixel values are NaN, infinite or outside [0, 1]: ${problems.join('; ')}${more}`);
  }
}


/** A planar image in [0, 1] as 8-bit PNG bytes (each value rounded to the nearest of 256 levels). */
export function encodePlanarPng(chw: Float32Array, c: 1 | 3, h: number, w: number): Uint8Array {
  assertValidImage(chw, [c, h, w]);
  const plane = h * w;
  const data = new Uint8Array(c * plane);
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < c; ch++) data[p * c + ch] = Math.round(chw[ch * plane + p] * 255);
  }
  return encodePng({ width: w, height: h, channels: c, data });
}
