// PNG codec (non-interlaced), enough for datasets, fixtures and result grids.
import { unzlibSync, zlibSync } from 'fflate';

export class ImageFormatError extends Error {
  override name = 'ImageFormatError';
}

/** Row-major pixels with interleaved channels: gray, gray+alpha, RGB or RGBA, 8 bits each. */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

export type PngFilterChoice = 'none' | 'adaptive';

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);
const COLOR_TYPE_BY_CHANNELS = { 1: 0, 2: 4, 3: 2, 4: 6 } as const;
const PALETTE_COLOR_TYPE = 3;
const SAMPLES_PER_PIXEL: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const BIT_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Chunk {
  type: string;
  data: Uint8Array;
}

function readChunks(bytes: Uint8Array): Chunk[] {
  if (bytes.length < SIGNATURE.length || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new ImageFormatError('not a PNG file (bad signature)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: Chunk[] = [];
  let pos = SIGNATURE.length;
  for (;;) {
    if (pos + 8 > bytes.length) throw new ImageFormatError(`truncated PNG: no IEND chunk (file ends at byte ${bytes.length})`);
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const end = pos + 12 + length;
    if (end > bytes.length) {
      throw new ImageFormatError(`truncated PNG: ${type} chunk at byte ${pos} needs ${length + 12} bytes, only ${bytes.length - pos} left`);
    }
    const stored = view.getUint32(end - 4);
    if (crc32(bytes.subarray(pos + 4, end - 4)) !== stored) {
      throw new ImageFormatError(`corrupt PNG: CRC mismatch in ${type} chunk at byte ${pos}`);
    }
    chunks.push({ type, data: bytes.subarray(pos + 8, end - 4) });
    if (type === 'IEND') return chunks;
    pos = end;
  }
}

interface Header {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
}

function parseHeader(chunk: Chunk | undefined): Header {
  if (chunk?.type !== 'IHDR' || chunk.data.length !== 13) throw new ImageFormatError('corrupt PNG: first chunk is not a 13-byte IHDR');
  const view = new DataView(chunk.data.buffer, chunk.data.byteOffset, 13);
  const [width, height] = [view.getUint32(0), view.getUint32(4)];
  const [bitDepth, colorType, compression, filterMethod, interlace] = chunk.data.subarray(8);
  if (width === 0 || height === 0) throw new ImageFormatError(`corrupt PNG: empty image ${width}x${height}`);
  if (!BIT_DEPTHS[colorType]?.includes(bitDepth)) {
    throw new ImageFormatError(`unsupported PNG: color type ${colorType} with bit depth ${bitDepth}`);
  }
  if (compression !== 0 || filterMethod !== 0) throw new ImageFormatError('corrupt PNG: unknown compression or filter method');
  if (interlace !== 0) throw new ImageFormatError('unsupported PNG: interlaced (Adam7) images are not supported');
  return { width, height, bitDepth, colorType };
}

function paeth(left: number, up: number, upLeft: number): number {
  const p = left + up - upLeft;
  const dLeft = Math.abs(p - left);
  const dUp = Math.abs(p - up);
  const dUpLeft = Math.abs(p - upLeft);
  if (dLeft <= dUp && dLeft <= dUpLeft) return left;
  return dUp <= dUpLeft ? up : upLeft;
}

function predict(filter: number, left: number, up: number, upLeft: number): number {
  switch (filter) {
    case 1: return left;
    case 2: return up;
    case 3: return (left + up) >> 1;
    case 4: return paeth(left, up, upLeft);
    default: return 0;
  }
}

/** `stride` is the byte distance to the same sample of the previous pixel (at least 1, per the spec). */
function unfilter(filtered: Uint8Array, height: number, rowBytes: number, stride: number): Uint8Array {
  const rows = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const src = y * (rowBytes + 1);
    const filter = filtered[src];
    const dst = y * rowBytes;
    if (filter > 4) throw new ImageFormatError(`corrupt PNG: unknown filter type ${filter} on row ${y}`);
    if (filter === 0) {
      rows.set(filtered.subarray(src + 1, src + 1 + rowBytes), dst);
      continue;
    }
    const prev = dst - rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      const left = i >= stride ? rows[dst + i - stride] : 0;
      const up = y > 0 ? rows[prev + i] : 0;
      const upLeft = y > 0 && i >= stride ? rows[prev + i - stride] : 0;
      rows[dst + i] = filtered[src + 1 + i] + predict(filter, left, up, upLeft);
    }
  }
  return rows;
}

/** One byte per sample: 16-bit samples rounded to 8 bits, sub-byte samples left as raw values. */
function readSamples(rows: Uint8Array, height: number, rowBytes: number, samplesPerRow: number, bitDepth: number): Uint8Array {
  if (bitDepth === 8) return rows;
  const samples = new Uint8Array(height * samplesPerRow);
  const mask = (1 << bitDepth) - 1;
  for (let y = 0; y < height; y++) {
    const row = y * rowBytes;
    const out = y * samplesPerRow;
    for (let i = 0; i < samplesPerRow; i++) {
      if (bitDepth === 16) {
        samples[out + i] = Math.round(((rows[row + 2 * i] << 8) | rows[row + 2 * i + 1]) / 257);
      } else {
        const bit = i * bitDepth;
        samples[out + i] = (rows[row + (bit >> 3)] >> (8 - bitDepth - (bit & 7))) & mask;
      }
    }
  }
  return samples;
}

function applyPalette(indices: Uint8Array, palette: Uint8Array, alpha: Uint8Array | undefined): { channels: 3 | 4; data: Uint8Array } {
  const channels = alpha ? 4 : 3;
  const entries = palette.length / 3;
  const data = new Uint8Array(indices.length * channels);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i];
    if (index >= entries) throw new ImageFormatError(`corrupt PNG: palette index ${index} at pixel ${i}, palette has ${entries} entries`);
    data.set(palette.subarray(3 * index, 3 * index + 3), i * channels);
    if (alpha) data[i * channels + 3] = index < alpha.length ? alpha[index] : 255;
  }
  return { channels, data };
}

function concatenate(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const joined = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

function inflateExactly(compressed: Uint8Array, expectedLength: number): Uint8Array {
  // One spare byte so that a stream holding too much data shows up as a length mismatch.
  let inflated: Uint8Array;
  try {
    inflated = unzlibSync(compressed, { out: new Uint8Array(expectedLength + 1) });
  } catch (err) {
    throw new ImageFormatError(`corrupt PNG: IDAT zlib stream: ${(err as Error).message}`);
  }
  if (inflated.length !== expectedLength) {
    throw new ImageFormatError(`corrupt PNG: IDAT holds ${inflated.length > expectedLength ? 'more than ' : ''}${inflated.length} bytes, expected ${expectedLength}`);
  }
  return inflated;
}

export class ImageTooLargeError extends ImageFormatError {
  override name = 'ImageTooLargeError';
}

export interface DecodeLimits {
  /** Refuse images with more pixels than this, before inflating a byte (default: no limit). */
  maxPixels?: number;
}

export function checkPixelLimit(width: number, height: number, limits: DecodeLimits): void {
  if (limits.maxPixels !== undefined && width * height > limits.maxPixels) {
    throw new ImageTooLargeError(`${width}×${height} image has ${width * height} pixels, more than the limit of ${limits.maxPixels}`);
  }
}

export function decodePng(bytes: Uint8Array, limits: DecodeLimits = {}): RasterImage {
  const chunks = readChunks(bytes);
  const { width, height, bitDepth, colorType } = parseHeader(chunks[0]);
  checkPixelLimit(width, height, limits);
  const critical = chunks.find((c) => /^[A-Z]/.test(c.type) && !['IHDR', 'PLTE', 'IDAT', 'IEND'].includes(c.type));
  if (critical) throw new ImageFormatError(`unsupported PNG: unknown critical chunk ${critical.type}`);
  const idat = chunks.filter((c) => c.type === 'IDAT').map((c) => c.data);
  if (idat.length === 0) throw new ImageFormatError('corrupt PNG: no IDAT chunk');

  const samplesPerPixel = SAMPLES_PER_PIXEL[colorType];
  const bitsPerPixel = samplesPerPixel * bitDepth;
  const rowBytes = Math.ceil((width * bitsPerPixel) / 8);
  const filtered = inflateExactly(concatenate(idat), height * (rowBytes + 1));
  const rows = unfilter(filtered, height, rowBytes, Math.max(1, bitsPerPixel >> 3));
  const samples = readSamples(rows, height, rowBytes, width * samplesPerPixel, bitDepth);

  if (colorType === PALETTE_COLOR_TYPE) {
    const palette = chunks.find((c) => c.type === 'PLTE')?.data;
    if (!palette || palette.length % 3 !== 0) throw new ImageFormatError('corrupt PNG: palette image without a valid PLTE chunk');
    const alpha = chunks.find((c) => c.type === 'tRNS')?.data;
    return { width, height, ...applyPalette(samples, palette, alpha) };
  }
  if (bitDepth < 8) {
    const scale = 255 / ((1 << bitDepth) - 1);
    for (let i = 0; i < samples.length; i++) samples[i] = samples[i] * scale;
  }
  return { width, height, channels: samplesPerPixel as RasterImage['channels'], data: samples };
}

function filterRow(filter: number, row: Uint8Array, prev: Uint8Array | undefined, stride: number, out: Uint8Array): void {
  out[0] = filter;
  for (let i = 0; i < row.length; i++) {
    const left = i >= stride ? row[i - stride] : 0;
    const up = prev ? prev[i] : 0;
    const upLeft = prev && i >= stride ? prev[i - stride] : 0;
    out[i + 1] = row[i] - predict(filter, left, up, upLeft);
  }
}

/** Sum of bytes read as signed values: the usual heuristic for which filter compresses best. */
function filterCost(filtered: Uint8Array): number {
  let cost = 0;
  for (let i = 1; i < filtered.length; i++) cost += filtered[i] < 128 ? filtered[i] : 256 - filtered[i];
  return cost;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 12);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export function encodePng(image: RasterImage, options: { filter?: PngFilterChoice } = {}): Uint8Array {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`encodePng: bad size ${width}x${height}`);
  }
  if (!(channels in COLOR_TYPE_BY_CHANNELS)) throw new RangeError(`encodePng: channels must be 1-4, got ${channels}`);
  const rowBytes = width * channels;
  if (data.length !== height * rowBytes) {
    throw new RangeError(`encodePng: ${width}x${height}x${channels} needs ${height * rowBytes} bytes, got ${data.length}`);
  }

  const filters = options.filter === 'none' ? [0] : [0, 1, 2, 3, 4];
  const filtered = new Uint8Array(height * (rowBytes + 1));
  const candidate = new Uint8Array(rowBytes + 1);
  for (let y = 0; y < height; y++) {
    const row = data.subarray(y * rowBytes, (y + 1) * rowBytes);
    const prev = y > 0 ? data.subarray((y - 1) * rowBytes, y * rowBytes) : undefined;
    const out = filtered.subarray(y * (rowBytes + 1), (y + 1) * (rowBytes + 1));
    let bestCost = Infinity;
    for (const filter of filters) {
      filterRow(filter, row, prev, channels, candidate);
      const cost = filters.length > 1 ? filterCost(candidate) : 0;
      if (cost < bestCost) {
        bestCost = cost;
        out.set(candidate);
      }
    }
  }

  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, COLOR_TYPE_BY_CHANNELS[channels], 0, 0, 0], 8);
  return concatenate([SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlibSync(filtered, { level: 6 })), chunk('IEND', new Uint8Array(0))]);
}
