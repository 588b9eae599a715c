// Image files <-> planar float tensors (C×H×W in [0, 1]), the layout the engine computes in.
import { readFileSync, writeFileSync } from 'node:fs';
import type { DecodeLimits } from './png.ts';
import { colorChannels, decodeImageBytes, encodePlanarPng, toPlanarFloat, type PlanarImage } from './image-bytes.ts';

export { assertValidImage, colorChannels, decodeImageBytes, encodePlanarPng, InvalidImageError, toPlanarFloat, type PlanarImage } from './image-bytes.ts';

export function readImageFile(path: string, limits: DecodeLimits = {}): PlanarImage {
  const image = decodeImageBytes(readFileSync(path), path, limits);
  return { data: toPlanarFloat(image), c: colorChannels(image), h: image.height, w: image.width };
}

export function writeImageFile(path: string, chw: Float32Array, c: 1 | 3, h: number, w: number): void {
  writeFileSync(path, encodePlanarPng(chw, c, h, w));
}
