// 2-D convolution over NCHW f32 tensors as register-tiled implicit GEMM, one pass per variant:
//   FORWARD      out[n,co,oy,ox] = Σ x[n,ci, oy·S−padTop+ky, ox·S−padLeft+kx] · w[co,ci,ky,kx]
//   TRANSPOSED   out[n,co,y,x]   = Σ x[n,ci,i,j] · w[ci,co,ky,kx] over y = i·S−padTop+ky, x = j·S−padLeft+kx
//                (ConvTranspose2d, and conv2d's input gradient with its [Cout,Cin,..] weight)
//   WEIGHT_GRAD  dw[co,ci,ky,kx] = Σ g[n,co,oy,ox] · x[n,ci, oy·S−padTop+ky, ox·S−padLeft+kx]
//                over the batch slice workgroup_id.y (the caller sums the slices)
// Tiling: no workgroup memory, no barriers (the fast path on CPU Vulkan drivers). All 64
// invocations of a workgroup share one block of ${TCO} output channels (workgroup_id.z), so weight
// (WEIGHT_GRAD: gradient) addresses are workgroup-uniform and lavapipe loads each once instead of
// per lane; that only holds outside divergent control flow, so no invocation returns early: spare
// invocations compute on clamped indices and skip their stores, and padding is a select, not a branch.
// FORWARD / TRANSPOSED: an invocation accumulates ${TCO} channels × P = 4·${NV} pixels of one output
// row in vec4 registers; per (input channel, kernel row) it loads one input row segment and reuses
// it for all ${KW} taps. TRANSPOSED splits the output into S×S phases (workgroup_id.z also carries
// the phase), so an invocation's P pixels are S apart and every one of them uses the same taps.
// WEIGHT_GRAD: an invocation owns (ci, ky) × ${TCO} channels × ${KW} taps and walks its batch slice.
// Limits: tiles fold over workgroup_id x and y (groupsX) to stay under 65535 per dimension.
// Variants: KW and S (unrolled), TCO and NV (tile), BIAS, RELU / SILU epilogue.

const S = ${S}u;
const KW = ${KW}u;
const TCO = ${TCO}u;
const NV = ${NV}u;
const P = 4u * NV;
#if TRANSPOSED
/** Kernel columns any one phase uses. */
const TAPS_X = (KW + S - 1u) / S;
const SEG = P + TAPS_X - 1u;
#else
const SEG = S * (P - 1u) + KW;
#endif

#if WEIGHT_GRAD
struct Params { Cin: u32, H: u32, W: u32, Cout: u32, OH: u32, OW: u32, padTop: u32, padLeft: u32, KH: u32, N: u32, batchPerSlice: u32 }

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#else
struct Params { Cin: u32, H: u32, W: u32, Cout: u32, OH: u32, OW: u32, padTop: u32, padLeft: u32, KH: u32, tilesX: u32, tileRows: u32, tiles: u32, groupsX: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
#if BIAS
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#endif
#endif

var<private> colOff: array<u32, SEG>;
var<private> colOk: array<bool, SEG>;

/** Columns ix0 .. ix0+SEG−1 of an input row: clamped offsets, and whether each lies inside. */
fn setColumns(ix0: i32) {
  for (var i = 0u; i < SEG; i++) {
    let ix = ix0 + i32(i);
    colOk[i] = ix >= 0 && ix < i32(p.W);
    colOff[i] = u32(clamp(ix, 0, i32(p.W) - 1));
  }
}

/** The input row segment set by setColumns() in input row iy of the plane at `plane`, zero outside. */
fn loadRow(plane: u32, iy: i32) -> array<f32, SEG> {
  let rowOk = iy >= 0 && iy < i32(p.H);
  let rowBase = plane + u32(clamp(iy, 0, i32(p.H) - 1)) * p.W;
  var row: array<f32, SEG>;
  for (var i = 0u; i < SEG; i++) { row[i] = select(0.0, x[rowBase + colOff[i]], rowOk && colOk[i]); }
  return row;
}

#if WEIGHT_GRAD
var<private> acc: array<array<f32, KW>, TCO>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let cells = p.Cin * p.KH;
  let cell = wg.x * 64u + lane;
  let ci = min(cell, cells - 1u) / p.KH;
  let ky = min(cell, cells - 1u) % p.KH;
  let co0 = wg.z * TCO;
  let gPlane = p.OH * p.OW;
  var gOff: array<u32, TCO>;
  for (var j = 0u; j < TCO; j++) { gOff[j] = min(co0 + j, p.Cout - 1u) * gPlane; }
  let nEnd = min(p.N, (wg.y + 1u) * p.batchPerSlice);
  for (var n = wg.y * p.batchPerSlice; n < nEnd; n++) {
    let xPlane = (n * p.Cin + ci) * p.H * p.W;
    let gBatch = n * p.Cout * gPlane;
    for (var oy = 0u; oy < p.OH; oy++) {
      let iy = i32(oy * S + ky) - i32(p.padTop);
      let gRow = gBatch + oy * p.OW;
      for (var ox0 = 0u; ox0 < p.OW; ox0 += P) {
        setColumns(i32(ox0 * S) - i32(p.padLeft));
        let row = loadRow(xPlane, iy);
        for (var j = 0u; j < TCO; j++) {
          var gv: array<f32, P>;
          for (var q = 0u; q < P; q++) {
            gv[q] = select(0.0, g[gRow + gOff[j] + min(ox0 + q, p.OW - 1u)], ox0 + q < p.OW);
          }
          for (var kx = 0u; kx < KW; kx++) {
            for (var q = 0u; q < P; q++) { acc[j][kx] = fma(gv[q], row[S * q + kx], acc[j][kx]); }
          }
        }
      }
    }
  }
  if (cell >= cells) { return; }
  // out is [slice, Cout, Cin, KH, KW].
  let taps = p.KH * KW;
  for (var j = 0u; j < TCO; j++) {
    let co = co0 + j;
    if (co < p.Cout) {
      let o = ((wg.y * p.Cout + co) * p.Cin + ci) * taps + ky * KW;
      for (var kx = 0u; kx < KW; kx++) { out[o + kx] = acc[j][kx]; }
    }
  }
}
#else
var<private> acc: array<array<vec4<f32>, NV>, TCO>;

fn activate(v: f32) -> f32 {
#if RELU
  return max(v, 0.0);
#elif SILU
  return v / (1.0 + exp(-v));
#else
  return v;
#endif
}

/** Writes the accumulated block: channel co0+j, row y, pixel q at column x0 + q·xStep. */
fn store(n: u32, co0: u32, y: u32, x0: u32, xStep: u32) {
  if (y >= p.OH) { return; }
  for (var j = 0u; j < TCO; j++) {
    let co = co0 + j;
    if (co >= p.Cout) { return; }
    let outRow = ((n * p.Cout + co) * p.OH + y) * p.OW;
#if BIAS
    let b = bias[co];
#else
    let b = 0.0;
#endif
    for (var v = 0u; v < NV; v++) {
      for (var c = 0u; c < 4u; c++) {
        let ox = x0 + (4u * v + c) * xStep;
        if (ox < p.OW) { out[outRow + ox] = activate(acc[j][v][c] + b); }
      }
    }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let tileId = (wg.x + wg.y * p.groupsX) * 64u + lane;
  let tile = min(tileId, p.tiles - 1u);
  let tileX = tile % p.tilesX;
  let tileRow = (tile / p.tilesX) % p.tileRows;
  let n = tile / p.tilesX / p.tileRows;
#if TRANSPOSED
  let phase = wg.z % (S * S);
  let co0 = wg.z / (S * S) * TCO;
  let phaseY = phase / S;
  let phaseX = phase % S;
  // Output (y, x) takes kernel rows ky ≡ y + padTop (mod S) and columns likewise; with y = phaseY + S·tileRow
  // and x = phaseX + S·(P·tileX + q), tap t reads input row tileRow + rowShift − t, column P·tileX + q + colShift − t.
  let kyFirst = (phaseY + p.padTop) % S;
  let kxFirst = (phaseX + p.padLeft) % S;
  let rowShift = (phaseY + p.padTop - kyFirst) / S;
  let colShift = (phaseX + p.padLeft - kxFirst) / S;
  let tapRows = (p.KH + S - 1u - kyFirst) / S;
  setColumns(i32(tileX * P + colShift) - i32(TAPS_X - 1u));
  let taps = p.KH * KW;
  var wOff: array<u32, TCO>;
  for (var j = 0u; j < TCO; j++) { wOff[j] = min(co0 + j, p.Cout - 1u) * taps; }
  for (var ci = 0u; ci < p.Cin; ci++) {
    let plane = (n * p.Cin + ci) * p.H * p.W;
    let wChannel = ci * p.Cout * taps;
    for (var t = 0u; t < tapRows; t++) {
      let row = loadRow(plane, i32(tileRow + rowShift) - i32(t));
      let wRow = wChannel + (kyFirst + S * t) * KW;
      for (var tx = 0u; tx < TAPS_X; tx++) {
        let kx = kxFirst + S * tx;
        let m = TAPS_X - 1u - tx;
        for (var j = 0u; j < TCO; j++) {
          let wv = vec4<f32>(select(0.0, w[wRow + wOff[j] + min(kx, KW - 1u)], kx < KW));
          for (var v = 0u; v < NV; v++) {
            let a = m + 4u * v;
            acc[j][v] = fma(wv, vec4<f32>(row[a], row[a + 1u], row[a + 2u], row[a + 3u]), acc[j][v]);
          }
        }
      }
    }
  }
  if (tileId < p.tiles) { store(n, co0, phaseY + S * tileRow, phaseX + S * P * tileX, S); }
#else
  let co0 = wg.z * TCO;
  setColumns(i32(tileX * P * S) - i32(p.padLeft));
  let taps = p.KH * KW;
  var wOff: array<u32, TCO>;
  for (var j = 0u; j < TCO; j++) { wOff[j] = min(co0 + j, p.Cout - 1u) * p.Cin * taps; }
  let iyTop = i32(tileRow * S) - i32(p.padTop);
  for (var ci = 0u; ci < p.Cin; ci++) {
    let plane = (n * p.Cin + ci) * p.H * p.W;
    for (var ky = 0u; ky < p.KH; ky++) {
      let row = loadRow(plane, iyTop + i32(ky));
      let wRow = (ci * p.KH + ky) * KW;
      for (var kx = 0u; kx < KW; kx++) {
        for (var j = 0u; j < TCO; j++) {
          let wv = vec4<f32>(w[wOff[j] + wRow + kx]);
          for (var v = 0u; v < NV; v++) {
            let a = 4u * S * v + kx;
            acc[j][v] = fma(wv, vec4<f32>(row[a], row[a + S], row[a + 2u * S], row[a + 3u * S]), acc[j][v]);
          }
        }
      }
    }
  }
  if (tileId < p.tiles) { store(n, co0, tileRow, tileX * P, 1u); }
#endif
}
#endif
