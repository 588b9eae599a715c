// Float64 references for conv2d and convTranspose2d (NCHW, PyTorch weight layouts), forward and
// backward. Both ops are bilinear in (x, w): each enumerates its (x, w, y) index triples straight
// from PyTorch's definition, and the forward and the gradients are sums over those same triples.
import { nd, type Nd } from './nd.ts';

export interface ConvOptions {
  stride?: number;
  /** All sides, or [top, bottom, left, right]. */
  padding?: number | [number, number, number, number];
}

export interface ConvTransposeOptions {
  stride?: number;
  padding?: number;
  outputPadding?: number;
}

export interface ConvGrads {
  dx: Nd;
  dw: Nd;
  db: Nd;
}

type Visit = (xi: number, wi: number, yi: number) => void;

interface Bilinear {
  outShape: number[];
  forEachTriple(visit: Visit): void;
}

function conv2dMap(xShape: number[], wShape: number[], opts: ConvOptions): Bilinear {
  const [N, Cin, H, W] = xShape;
  const [Cout, , KH, KW] = wShape;
  const S = opts.stride ?? 1;
  const pad = opts.padding ?? 0;
  const [top, bottom, left, right] = typeof pad === 'number' ? [pad, pad, pad, pad] : pad;
  const OH = Math.floor((H + top + bottom - KH) / S) + 1;
  const OW = Math.floor((W + left + right - KW) / S) + 1;
  return {
    outShape: [N, Cout, OH, OW],
    forEachTriple(visit) {
      for (let n = 0; n < N; n++) for (let co = 0; co < Cout; co++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
        const yi = ((n * Cout + co) * OH + oy) * OW + ox;
        for (let ci = 0; ci < Cin; ci++) for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
          const iy = oy * S - top + ky, ix = ox * S - left + kx;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
          visit(((n * Cin + ci) * H + iy) * W + ix, ((co * Cin + ci) * KH + ky) * KW + kx, yi);
        }
      }
    },
  };
}

function convTranspose2dMap(xShape: number[], wShape: number[], opts: ConvTransposeOptions): Bilinear {
  const [N, Cin, H, W] = xShape;
  const [, Cout, KH, KW] = wShape;
  const { stride: S = 1, padding: pad = 0, outputPadding = 0 } = opts;
  const OH = (H - 1) * S - 2 * pad + KH + outputPadding;
  const OW = (W - 1) * S - 2 * pad + KW + outputPadding;
  return {
    outShape: [N, Cout, OH, OW],
    forEachTriple(visit) {
      for (let n = 0; n < N; n++) for (let ci = 0; ci < Cin; ci++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
        const xi = ((n * Cin + ci) * H + i) * W + j;
        for (let co = 0; co < Cout; co++) for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
          const oy = i * S - pad + ky, ox = j * S - pad + kx;
          if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
          visit(xi, ((ci * Cout + co) * KH + ky) * KW + kx, ((n * Cout + co) * OH + oy) * OW + ox);
        }
      }
    },
  };
}

function forward(map: Bilinear, x: Nd, w: Nd, bias?: Nd): Nd {
  const y = nd(map.outShape);
  map.forEachTriple((xi, wi, yi) => (y.data[yi] += x.data[xi] * w.data[wi]));
  if (bias) {
    const [, C, OH, OW] = map.outShape;
    for (let i = 0; i < y.data.length; i++) y.data[i] += bias.data[Math.floor(i / (OH * OW)) % C];
  }
  return y;
}

function backward(map: Bilinear, x: Nd, w: Nd, g: Nd): ConvGrads {
  const dx = nd(x.shape), dw = nd(w.shape);
  map.forEachTriple((xi, wi, yi) => {
    dx.data[xi] += g.data[yi] * w.data[wi];
    dw.data[wi] += g.data[yi] * x.data[xi];
  });
  const [, C, OH, OW] = g.shape;
  const db = nd([C]);
  for (let i = 0; i < g.data.length; i++) db.data[Math.floor(i / (OH * OW)) % C] += g.data[i];
  return { dx, dw, db };
}

/** x [N, Cin, H, W], w [Cout, Cin, KH, KW], bias [Cout]. */
export const conv2d = (x: Nd, w: Nd, bias?: Nd, opts: ConvOptions = {}): Nd => forward(conv2dMap(x.shape, w.shape, opts), x, w, bias);

/** Gradients of sum(conv2d(x, w, b) ⊙ g). */
export const conv2dBackward = (x: Nd, w: Nd, g: Nd, opts: ConvOptions = {}): ConvGrads => backward(conv2dMap(x.shape, w.shape, opts), x, w, g);

/** x [N, Cin, H, W], w [Cin, Cout, KH, KW], bias [Cout]. */
export const convTranspose2d = (x: Nd, w: Nd, bias?: Nd, opts: ConvTransposeOptions = {}): Nd =>
  forward(convTranspose2dMap(x.shape, w.shape, opts), x, w, bias);

/** Gradients of sum(convTranspose2d(x, w, b) ⊙ g). */
export const convTranspose2dBackward = (x: Nd, w: Nd, g: Nd, opts: ConvTransposeOptions = {}): ConvGrads =>
  backward(convTranspose2dMap(x.shape, w.shape, opts), x, w, g);
