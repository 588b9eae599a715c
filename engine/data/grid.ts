// Result sheets: rows of images (e.g. clean / attacked / purified) with captions, as one PNG.
import { GLYPH_HEIGHT, rasterizeText, textWidth } from './bitmap-font.ts';
import { encodePng } from './png.ts';

export interface GridRow {
  /** Printed left of the row, e.g. "clean", "pgd", "agdm". */
  label?: string;
  /** N×C×H×W in [0, 1]; C is 1 or 3. */
  images: Float32Array;
  n: number;
  c: number;
  h: number;
  w: number;
  /** Printed under each image, e.g. the predicted class. */
  captions?: string[];
  /** Colors each caption green (right) or red (wrong); captions are black without it. */
  correct?: boolean[];
}

export interface GridOptions {
  /** Nearest-neighbour upscaling factor; by default images grow to roughly 112 px. */
  scale?: number;
  /** Gap in pixels between cells and around the sheet. */
  pad?: number;
}

type Rgb = readonly [number, number, number];

const TEXT_SCALE = 2;
const DEFAULT_PAD = 6;
const TARGET_IMAGE_SIZE = 112;
const BACKGROUND: Rgb = [255, 255, 255];
const TEXT: Rgb = [0, 0, 0];
const RIGHT: Rgb = [0, 150, 0];
const WRONG: Rgb = [210, 0, 0];

class Canvas {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.data = new Uint8Array(width * height * 3);
    for (let p = 0; p < width * height; p++) this.data.set(BACKGROUND, p * 3);
  }

  /** Clipped to the canvas, so an overlong caption cannot spill into the next row. */
  fill(x: number, y: number, w: number, h: number, color: Rgb): void {
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + h); yy++) {
      for (let xx = Math.max(0, x); xx < Math.min(this.width, x + w); xx++) this.data.set(color, (yy * this.width + xx) * 3);
    }
  }

  text(text: string, x: number, y: number, color: Rgb): void {
    rasterizeText(text, (gx, gy) => this.fill(x + gx * TEXT_SCALE, y + gy * TEXT_SCALE, TEXT_SCALE, TEXT_SCALE, color));
  }

  /** Draws image `index` of `row`, each source pixel as a scale×scale block; gray is spread over RGB. */
  image(row: GridRow, index: number, x: number, y: number, scale: number): void {
    const { images, c, h, w } = row;
    const plane = h * w;
    const base = index * c * plane;
    const color: [number, number, number] = [0, 0, 0];
    for (let py = 0; py < h; py++) {
      for (let px = 0; px < w; px++) {
        for (let ch = 0; ch < 3; ch++) {
          const value = images[base + (c === 1 ? 0 : ch) * plane + py * w + px];
          color[ch] = Math.round(Math.min(1, Math.max(0, value)) * 255);
        }
        this.fill(x + px * scale, y + py * scale, scale, scale, color);
      }
    }
  }
}

function checkRow(row: GridRow, index: number): void {
  if (row.c !== 1 && row.c !== 3) throw new RangeError(`grid row ${index}: channels must be 1 or 3, got ${row.c}`);
  if (row.images.length < row.n * row.c * row.h * row.w) {
    throw new RangeError(`grid row ${index}: ${row.n}x${row.c}x${row.h}x${row.w} needs ${row.n * row.c * row.h * row.w} values, got ${row.images.length}`);
  }
}

/** Returns PNG bytes (RGB) with one row of cells per entry of `rows`. */
export function imageGrid(rows: GridRow[], opts: GridOptions = {}): Uint8Array {
  if (rows.length === 0) throw new RangeError('imageGrid: no rows');
  rows.forEach(checkRow);
  const maxH = Math.max(...rows.map((r) => r.h));
  const maxW = Math.max(...rows.map((r) => r.w));
  const scale = opts.scale ?? Math.max(1, Math.round(TARGET_IMAGE_SIZE / Math.max(maxH, maxW)));
  const pad = opts.pad ?? DEFAULT_PAD;
  const textHeight = GLYPH_HEIGHT * TEXT_SCALE;

  const labelWidth = Math.max(0, ...rows.map((r) => textWidth(r.label ?? '') * TEXT_SCALE));
  const labelColumn = labelWidth > 0 ? labelWidth + pad : 0;
  // Captions sit closer to their own image than to the next row, so they read as belonging to it.
  const captionGap = TEXT_SCALE;
  const captionBand = rows.some((r) => r.captions?.length) ? textHeight + 2 * captionGap : 0;
  const cellW = maxW * scale;
  const cellH = maxH * scale;
  const rowH = cellH + captionBand;
  const columns = Math.max(...rows.map((r) => r.n));
  const canvas = new Canvas(pad + labelColumn + columns * (cellW + pad), pad + rows.length * (rowH + pad));

  rows.forEach((row, r) => {
    const top = pad + r * (rowH + pad);
    if (row.label) canvas.text(row.label, pad, top + Math.floor((cellH - textHeight) / 2), TEXT);
    for (let i = 0; i < row.n; i++) {
      const left = pad + labelColumn + i * (cellW + pad);
      canvas.image(row, i, left, top, scale);
      const caption = row.captions?.[i];
      if (!caption) continue;
      const color = row.correct?.[i] === undefined ? TEXT : row.correct[i] ? RIGHT : WRONG;
      const captionX = left + Math.max(0, Math.floor((cellW - textWidth(caption) * TEXT_SCALE) / 2));
      canvas.text(caption, captionX, top + cellH + captionGap, color);
    }
  });
  return encodePng({ width: canvas.width, height: canvas.height, channels: 3, data: canvas.data });
}
