// 2-D convolution over NCHW f32 tensors as register-tiled implicit GEMM. Variants:
//   FORWARD      out[n,co,oy,ox] = Σ x[n,ci, oy·S−padTop+ky, ox·S−padLeft+kx] · w[co,ci,ky,kx]
//   TRANSPOSED   out[n,co,y,x]   = Σ x[n,ci,i,j] · w[ci,co,ky,kx] over y = i·S−padTop+ky, x = j·S−padLeft+kx
//                (ConvTranspose2d, and conv2d's input gradient with its [Cout,Cin,..] weight)
//   WEIGHT_GRAD  dw[co,ci,ky,kx] = Σ g[n,co,oy,ox] · x[n,ci, oy·S−padTop+ky, ox·S−padLeft+kx]
//                over the batch slice workgroup_id.y (the caller sums the slices)
//   PACK         the weight as vec4s of 4 output channels, each block of TCO channels contiguous
//   PAD          a zero-padded copy with whole, aligned vec4 row segments (WEIGHT_GRAD's input and
//                output gradient only: there one padded row serves all Cout·KH·KW taps)
// Why loads are shaped as they are: lavapipe (Mesa 25.0) turns every storage-buffer load inside a
// loop into a per-lane scalar loop with an exec-mask branch and a bounds-check branch, so loads,
// not FMAs, set the speed. Inputs are therefore read as whole aligned vec4s (one per-lane loop for
// 4 values) even though a row segment starts anywhere (any W, any padding): loadRow() loads the
// vec4s covering it, shifts by the start's offset in its vec4 and zeroes what lies outside the
// image, all with selects, which on CPU drivers cost less than branches or per-value loads
// (measured against a zero-padded copy made per call, an extra pass: see engine/ops/conv.ts).
// PACK lets the inner loops load whole vec4s of weights. Nothing uses workgroup memory except the
// FORWARD / TRANSPOSED weight staging below, for GPUs: on CPU drivers its barriers cost more than
// the loads it saves (SwiftShader switches coroutines at each; see SOFTWARE_TUNING).
// Tiling: FORWARD / TRANSPOSED invocations accumulate ${TCO} output channels (workgroup_id.z) ×
// P = 4·${NV} pixels of one output row in vec4 registers; per (input channel, kernel row) they
// load one input row segment and reuse it for all taps of that row. TRANSPOSED splits the output
// into S×S phases (workgroup_id.z also carries the phase) so that an invocation's P pixels, S
// apart, share their taps. WEIGHT_GRAD invocations own one input channel × ${TCO} output channels ×
// all KH·KW taps and walk their batch slice P pixels at a time, one kernel row at a time (fewer
// live registers beat fewer loads there); the output gradient's P pixels load once for all rows.
// Limits: pixel tiles fold over workgroup_id x and y (groupsX) to stay under 65535 per dimension;
// flat indices are i32 (2³¹ values per input). FORWARD / TRANSPOSED stage the block's weights in
// workgroup memory, STAGED_VEC4S vec4s (a whole number of input channels' taps) per round, two
// barriers a round (STAGED_VEC4S 0: no staging, every invocation loads the weights itself). Buffers are read in whole vec4s past a tensor's end: the pool's buffers are
// whole multiples of 16 bytes, and what lies past the end is zeroed.
// UNIFORM_WEIGHTS (FORWARD / TRANSPOSED): the packed weight is read through a uniform binding of
// ${UNIFORM_VEC4S} vec4s (64 KiB, maxUniformBufferBindingSize everywhere): lavapipe loads uniform
// buffers for less than storage buffers (see SOFTWARE_TUNING). A weight over 64 KiB is bound in
// windows of whole output-channel blocks, one dispatch each: workgroup_id.z counts blocks from the
// window's first, p.block0 says which output block that is (0 when the weight is bound whole).
// UNROLL (the swiftshader tuning): FORWARD / TRANSPOSED's inner loops (accumulate, loadRow), marked
// `#unroll`, are expanded (engine/shader-unroll.ts) so that every register index there is a
// constant: SwiftShader keeps arrays indexed by a loop variable in memory (its Franfee step at
// batch 8: conv2d_forward 0.9–1.0 s unrolled, 4.8–5.2 s not). Loops run once per invocation (store,
// columnsInside) and WEIGHT_GRAD's stay loops: expanded too, they made SwiftShader compile every
// kernel in 182 s instead of 83 s (34 s with nothing expanded); their speed there is unmeasured.
// Defines: KH, KW and S (unrolled taps), TCO (a multiple of 4) and NV (tile), STAGED_VEC4S, UNIFORM_WEIGHTS, BIAS, RESIDUAL
// (FORWARD: adds a tensor of the output's shape before the activation, a ResNet block's skip),
// SAMPLE_BIAS (FORWARD: adds sampleBias[n, co], a per-sample channel vector such as a UNet's time
// embedding, broadcast over the image: the add pass it replaces would read and write the whole output),
// RELU / SILU epilogue; PAD, PACK, TRANSPOSED, WEIGHT_GRAD pick the variant (none: FORWARD).

const S = ${S}u;
const KH = ${KH}u;
const KW = ${KW}u;
const TCO = ${TCO}u;
const NV = ${NV}u;
const P = 4u * NV;
/** vec4s of output channels per invocation. */
const CV = TCO / 4u;

#if PAD
struct Params { H: u32, W: u32, Hp: u32, Wp4: u32, top: i32, left: i32, size4: u32, groupsX: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * 64u;
  if (i >= p.size4) { return; }
  let col0 = i32((i % p.Wp4) * 4u) - p.left;
  let iy = i32((i / p.Wp4) % p.Hp) - p.top;
  let plane = i / p.Wp4 / p.Hp;
  var v = vec4<f32>(0.0);
  if (iy >= 0 && iy < i32(p.H)) {
    let rowBase = (plane * p.H + u32(iy)) * p.W;
    for (var c = 0; c < 4; c++) {
      let ix = col0 + c;
      if (ix >= 0 && ix < i32(p.W)) { v[c] = x[rowBase + u32(ix)]; }
    }
  }
  out[i] = v;
}
#elif PACK
struct Params { Cout: u32, Cin: u32, taps: u32, blockVec4s: u32, sCo: u32, sCi: u32, size4: u32, groupsX: u32 }

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

// out[((block·Cin + ci)·taps + k)·blockVec4s + b][c] = w[co·sCo + ci·sCi + k] for output channel
// co = 4·(block·blockVec4s + b) + c (zero past Cout): each block's weights are contiguous.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * 64u;
  if (i >= p.size4) { return; }
  let tap = (i / p.blockVec4s) % (p.Cin * p.taps);
  let co0 = 4u * ((i / p.blockVec4s / (p.Cin * p.taps)) * p.blockVec4s + i % p.blockVec4s);
  let src = (tap / p.taps) * p.sCi + tap % p.taps;
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (co0 + c < p.Cout) { v[c] = w[src + (co0 + c) * p.sCo]; }
  }
  out[i] = v;
}
#else
#if TRANSPOSED
/** Kernel columns any one phase uses; pixel q, tap t reads row[q + TAPS − 1 − t]. */
const TAPS = (KW + S - 1u) / S;
const STEP = 1u;
#else
/** Pixel q, tap t reads row[S·q + t]. */
const TAPS = KW;
const STEP = S;
#endif
const SEG = STEP * (P - 1u) + TAPS;

#if WEIGHT_GRAD
/** The input row segment in whole vec4s. */
const SEGV = (SEG + 3u) / 4u;

/** The input row segment of SEGV vec4s from vec4 index `at` of the padded input. */
fn loadRow(at: u32) -> array<f32, SEGV * 4u> {
  var row: array<f32, SEGV * 4u>;
  for (var m = 0u; m < SEGV; m++) {
    let q = x[at + m];
    row[4u * m] = q.x;
    row[4u * m + 1u] = q.y;
    row[4u * m + 2u] = q.z;
    row[4u * m + 3u] = q.w;
  }
  return row;
}

struct Params { Cin: u32, Hp: u32, Wp4: u32, Cout: u32, OH: u32, OWp4: u32, N: u32, batchPerSlice: u32, cells: u32 }

@group(0) @binding(0) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<private> acc: array<array<f32, KH * KW>, TCO>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let cell = gid.x;
  if (cell >= p.cells) { return; }
  let ci = cell % p.Cin;
  let co0 = cell / p.Cin * TCO;
  let gPlane = p.OH * p.OWp4;
  var gOff: array<u32, TCO>;
  for (var j = 0u; j < TCO; j++) { gOff[j] = min(co0 + j, p.Cout - 1u) * gPlane; }
  let nEnd = min(p.N, (wg.y + 1u) * p.batchPerSlice);
  for (var n = wg.y * p.batchPerSlice; n < nEnd; n++) {
    let xPlane = (n * p.Cin + ci) * p.Hp * p.Wp4;
    let gBatch = n * p.Cout * gPlane;
    for (var oy = 0u; oy < p.OH; oy++) {
      let xRow = xPlane + oy * S * p.Wp4;
      let gRow = gBatch + oy * p.OWp4;
      for (var c = 0u; c < p.OWp4 / NV; c++) {
        for (var ky = 0u; ky < KH; ky++) {
          let row = loadRow(xRow + ky * p.Wp4 + c * NV * S);
          for (var j = 0u; j < TCO; j++) {
            var gv: array<vec4<f32>, NV>;
            for (var v = 0u; v < NV; v++) { gv[v] = g[gRow + gOff[j] + c * NV + v]; }
            for (var kx = 0u; kx < KW; kx++) {
              for (var q = 0u; q < P; q++) {
                acc[j][ky * KW + kx] = fma(gv[q / 4u][q % 4u], row[S * q + kx], acc[j][ky * KW + kx]);
              }
            }
          }
        }
      }
    }
  }
  // out is [slice, Cout, Cin, KH, KW].
  for (var j = 0u; j < TCO; j++) {
    let co = co0 + j;
    if (co < p.Cout) {
      let o = ((wg.y * p.Cout + co) * p.Cin + ci) * KH * KW;
      for (var k = 0u; k < KH * KW; k++) { out[o + k] = acc[j][k]; }
    }
  }
}
#else
/** Aligned vec4s that cover SEG values starting anywhere in the first of them. */
const SEGV = (SEG + 6u) / 4u;

/** Which of the SEG input columns from ix0 lie inside the image: the same for every row a tile reads. */
fn columnsInside(ix0: i32) -> array<bool, SEG> {
  var inside: array<bool, SEG>;
  for (var k = 0u; k < SEG; k++) {
    let ix = ix0 + i32(k);
    inside[k] = ix >= 0 && ix < i32(p.W);
  }
  return inside;
}

/** x[plane + iy·W + ix0 + k] for k < SEG, zero outside the image; `inside` is columnsInside(ix0). */
fn loadRow(plane: u32, iy: i32, ix0: i32, inside: array<bool, SEG>) -> array<f32, SEG> {
  let rowInside = iy >= 0 && iy < i32(p.H);
  // Rows outside read a clamped row's values, and columns outside the neighbouring rows' (or
  // what lies before or past the tensor): all of it is zeroed below.
  let start = i32(plane) + clamp(iy, 0, i32(p.H) - 1) * i32(p.W) + ix0;
  let first = start >> 2u;
  let shift = u32(start & 3);
  var q: array<f32, SEGV * 4u>;
  #unroll
  for (var m = 0u; m < SEGV; m++) {
    let v = x[u32(max(first + i32(m), 0))];
    q[4u * m] = v.x;
    q[4u * m + 1u] = v.y;
    q[4u * m + 2u] = v.z;
    q[4u * m + 3u] = v.w;
  }
  // A shift by 0-3 values as shifts by 1 and by 2: two selects a value, no dynamic register index.
  var half: array<f32, SEG + 2u>;
  #unroll
  for (var k = 0u; k < SEG + 2u; k++) { half[k] = select(q[k], q[k + 1u], (shift & 1u) != 0u); }
  var row: array<f32, SEG>;
  #unroll
  for (var k = 0u; k < SEG; k++) { row[k] = select(0.0, select(half[k], half[k + 2u], shift >= 2u), rowInside && inside[k]); }
  return row;
}

struct Params { Cin: u32, H: u32, W: u32, Cout: u32, OH: u32, OW: u32, tilesX: u32, tileRows: u32, tiles: u32, groupsX: u32, padTop: u32, padLeft: u32, block0: u32 }

// The optional bindings shift the later ones; engine/ops/conv.ts numbers them (BIAS_AT, RESIDUAL_AT, SAMPLE_BIAS_AT, OUT_AT, PARAMS_AT).
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
#if UNIFORM_WEIGHTS
@group(0) @binding(1) var<uniform> w: array<vec4<f32>, ${UNIFORM_VEC4S}>;
#else
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
#endif
#if BIAS
@group(0) @binding(${BIAS_AT}) var<storage, read> bias: array<f32>;
#endif
#if RESIDUAL
@group(0) @binding(${RESIDUAL_AT}) var<storage, read> residual: array<f32>;
#endif
#if SAMPLE_BIAS
@group(0) @binding(${SAMPLE_BIAS_AT}) var<storage, read> sampleBias: array<f32>;
#endif
@group(0) @binding(${OUT_AT}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${PARAMS_AT}) var<uniform> p: Params;

var<private> acc: array<array<vec4<f32>, NV>, TCO>;

#if STAGED_VEC4S
/** The block's packed weights for CHUNK input channels at a time, shared by the workgroup. */
const STAGED = ${STAGED_VEC4S}u;
const CHUNK = STAGED / (KH * KW * CV);
var<workgroup> staged: array<vec4<f32>, STAGED>;

/** Weight vec4 i of the staged chunk. */
fn weightAt(i: u32) -> vec4<f32> { return staged[i]; }
#else
/** Weight vec4 i of the packed weight. */
fn weightAt(i: u32) -> vec4<f32> { return w[i]; }
#endif

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
    let channelBias = bias[co];
#else
    let channelBias = 0.0;
#endif
#if SAMPLE_BIAS
    let b = channelBias + sampleBias[n * p.Cout + co];
#else
    let b = channelBias;
#endif
    for (var v = 0u; v < NV; v++) {
      for (var c = 0u; c < 4u; c++) {
        let ox = x0 + (4u * v + c) * xStep;
#if RESIDUAL
        if (ox < p.OW) { out[outRow + ox] = activate(acc[j][v][c] + b + residual[outRow + ox]); }
#else
        if (ox < p.OW) { out[outRow + ox] = activate(acc[j][v][c] + b); }
#endif
      }
    }
  }
}

/**
 * Adds the first `taps` (≤ TAPS) taps over the input row segment: tap t is tap `tap0 + t·tapStep`
 * of the staged weight chunk (without staging, of the packed weight).
 */
fn accumulate(row: array<f32, SEG>, tap0: u32, tapStep: u32, taps: u32) {
  #unroll
  for (var t = 0u; t < TAPS; t++) {
    let wAt = (tap0 + min(t, taps - 1u) * tapStep) * CV;
    var wq: array<vec4<f32>, CV>;
    #unroll
    for (var b = 0u; b < CV; b++) { wq[b] = select(vec4<f32>(0.0), weightAt(wAt + b), t < taps); }
    #unroll
    for (var j = 0u; j < TCO; j++) {
      let wv = vec4<f32>(wq[j / 4u][j % 4u]);
      #unroll
      for (var v = 0u; v < NV; v++) {
#if TRANSPOSED
        let a = TAPS - 1u - t + 4u * STEP * v;
#else
        let a = t + 4u * STEP * v;
#endif
        acc[j][v] = fma(wv, vec4<f32>(row[a], row[a + STEP], row[a + 2u * STEP], row[a + 3u * STEP]), acc[j][v]);
      }
    }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  // Invocations past the last tile still stage weights and meet the barriers, computing tile 0.
  let live = (wg.x + wg.y * p.groupsX) * 64u + lane < p.tiles;
  let tile = select(0u, (wg.x + wg.y * p.groupsX) * 64u + lane, live);
  let tileX = tile % p.tilesX;
  let tileRow = (tile / p.tilesX) % p.tileRows;
  let n = tile / p.tilesX / p.tileRows;
  let plane = p.H * p.W;
#if TRANSPOSED
  let phase = wg.z % (S * S);
  let wBlock = wg.z / (S * S);
  let phaseY = phase / S;
  let phaseX = phase % S;
  // Output row y = phaseY + S·tileRow takes kernel rows ky ≡ y + padTop (mod S): tap t is
  // ky = kyFirst + S·t and reads input row iy0 − t. Columns work alike, pixel q (column
  // phaseX + S·(P·tileX + q)) at tap t reading input column ix0 + q + TAPS − 1 − t.
  let kyFirst = (phaseY + p.padTop) % S;
  let kxFirst = (phaseX + p.padLeft) % S;
  let tapRows = (KH + S - 1u - kyFirst) / S;
  let tapCols = (KW + S - 1u - kxFirst) / S;
  let iy0 = i32(tileRow + (phaseY + p.padTop) / S);
  let ix0 = i32(P * tileX + (phaseX + p.padLeft) / S) - i32(TAPS - 1u);
#else
  let wBlock = wg.z;
  let iy0 = i32(tileRow * S) - i32(p.padTop);
  let ix0 = i32(tileX * P * S) - i32(p.padLeft);
#endif
  let inside = columnsInside(ix0);
#if STAGED_VEC4S
  // One storage load per weight per workgroup instead of one per invocation: the usual shared
  // tile of GPUs, where the block's weights are the same for all 64 invocations.
  for (var ci0 = 0u; ci0 < p.Cin; ci0 += CHUNK) {
    let chunk = min(CHUNK, p.Cin - ci0);
    workgroupBarrier();
    let first = (wBlock * p.Cin + ci0) * KH * KW * CV;
    for (var i = lane; i < chunk * KH * KW * CV; i += 64u) { staged[i] = w[first + i]; }
    workgroupBarrier();
    // Staged taps count from the chunk's first channel.
    let wChannel0 = 0u;
#else
  // Without staging (CPU drivers, where the barriers cost more than the loads they save), every
  // invocation reads the packed weight itself; its taps count from the block's first channel.
  {
    let ci0 = 0u;
    let chunk = p.Cin;
    let wChannel0 = wBlock * p.Cin;
#endif
    if (live) {
      for (var c = 0u; c < chunk; c++) {
        let channel = (n * p.Cin + ci0 + c) * plane;
#if TRANSPOSED
        for (var t = 0u; t < tapRows; t++) {
          let row = loadRow(channel, iy0 - i32(t), ix0, inside);
          accumulate(row, ((wChannel0 + c) * KH + kyFirst + S * t) * KW + kxFirst, S, tapCols);
        }
#else
        for (var ky = 0u; ky < KH; ky++) {
          let row = loadRow(channel, iy0 + i32(ky), ix0, inside);
          accumulate(row, ((wChannel0 + c) * KH + ky) * KW, 1u, KW);
        }
#endif
      }
    }
  }
  if (!live) { return; }
#if TRANSPOSED
  store(n, (p.block0 + wBlock) * TCO, phaseY + S * tileRow, phaseX + S * P * tileX, S);
#else
  store(n, (p.block0 + wBlock) * TCO, tileRow, tileX * P, 1u);
#endif
}
#endif
#endif
