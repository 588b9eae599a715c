// Everything the public purifier accepts, turned into one N×C×H×W batch in [0, 1] for the model,
// with every image checked first: encoded PNG/JPEG bytes, ImageData-like RGBA rasters, or planar
// floats. A wrong shape, NaN or a value outside [0, 1] is an InvalidImageError naming the image.
import { assertValidImage, decodeImageBytes, InvalidImageError } from '../data/image-bytes.ts';
import { fitRaster } from '../data/fit-image.ts';
import type { RasterImage } from '../data/png.ts';

/** What a canvas's getImageData() returns: RGBA bytes, row-major. */
export interface ImageDataLike {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/**
 * One image: PNG or JPEG file bytes (Uint8Array or ArrayBuffer), an ImageData-like RGBA raster, or
 * planar C×H×W floats in [0, 1] (a Float32Array of several whole images is a batch).
 */
export type PurifyInput = Uint8Array | ArrayBuffer | ImageDataLike | Float32Array;

export interface InputOptions {
  /** Convert colour to gray (or gray to RGB) and resize to the model's shape instead of refusing. */
  fit?: boolean;
  /** Largest encoded image decoded, in pixels, checked before decompressing (default 16 M). */
  maxPixels?: number;
}

export const DEFAULT_MAX_PIXELS = 4096 * 4096;

export interface ImageBatch {
  data: Float32Array;
  shape: [n: number, c: number, h: number, w: number];
}

/** 3 for an RGB(A) raster whose channels differ somewhere; canvases give RGBA even for gray images. */
function colorsOf(raster: RasterImage): 1 | 3 {
  if (raster.channels < 3) return 1;
  const { data, channels } = raster;
  for (let at = 0; at < data.length; at += channels) if (data[at] !== data[at + 1] || data[at] !== data[at + 2]) return 3;
  return 1;
}

function fromRaster(raster: RasterImage, shape: readonly [number, number, number], fit: boolean, label: string): Float32Array {
  const [c, h, w] = shape;
  const colors = colorsOf(raster);
  const describe = `${raster.width}×${raster.height} ${colors === 3 ? 'colour' : 'gray'}`;
  if (!fit && (raster.width !== w || raster.height !== h || (colors === 3 && c === 1))) {
    throw new InvalidImageError(`${label}: ${describe} image, but the model takes ${w}×${h} ${c === 1 ? 'gray' : 'colour'}; convert it, or pass fit: true (--fit) to convert to gray/resize`);
  }
  return fitRaster(raster, shape);
}

function imagesOf(input: PurifyInput, shape: readonly [number, number, number], options: InputOptions, label: string): Float32Array[] {
  const [c, h, w] = shape;
  if (input instanceof Float32Array) {
    const per = c * h * w;
    if (input.length === 0 || input.length % per !== 0) throw new InvalidImageError(`${label}: ${input.length} floats are not whole ${c}×${h}×${w} images (${per} values each)`);
    const images = Array.from({ length: input.length / per }, (_, i) => input.subarray(i * per, (i + 1) * per));
    images.forEach((image, i) => check(image, shape, images.length > 1 ? `${label}, image ${i}` : label));
    return images;
  }
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) {
    const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
    const raster = decodeImageBytes(bytes, label, { maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS });
    return [fromRaster(raster, shape, options.fit ?? false, label)];
  }
  if (input && typeof input === 'object' && 'width' in input && 'height' in input && 'data' in input) {
    const { width, height, data } = input;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height * 4) {
      throw new InvalidImageError(`${label}: ImageData-like input needs width × height × 4 RGBA bytes, got ${data.length} for ${width}×${height}`);
    }
    const raster: RasterImage = { width, height, channels: 4, data: data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length) };
    return [fromRaster(raster, shape, options.fit ?? false, label)];
  }
  throw new InvalidImageError(`${label}: expected PNG/JPEG bytes, an ImageData-like {data, width, height} or a Float32Array, got ${Object.prototype.toString.call(input)}`);
}

function check(image: Float32Array, shape: readonly [number, number, number], label: string): void {
  try {
    assertValidImage(image, shape);
  } catch (err) {
    throw new InvalidImageError(`${label}: ${(err as Error).message}`);
  }
}

/**
 * Validates and stacks the inputs into one batch for a model taking `shape` = [c, h, w] images.
 * `names` (e.g. file paths) label the inputs in error messages.
 */
export function toImageBatch(inputs: PurifyInput | PurifyInput[], shape: readonly [number, number, number], options: InputOptions = {}, names?: string[]): ImageBatch {
  const list = Array.isArray(inputs) ? inputs : [inputs];
  if (list.length === 0) throw new InvalidImageError('no images given');
  const images = list.flatMap((input, i) => imagesOf(input, shape, options, names?.[i] ?? (list.length > 1 ? `input ${i}` : 'input')));
  const per = shape[0] * shape[1] * shape[2];
  const data = new Float32Array(images.length * per);
  images.forEach((image, i) => data.set(image, i * per));
  return { data, shape: [images.length, shape[0], shape[1], shape[2]] };
}
