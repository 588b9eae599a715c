// Batched matmul out[b] = A[b]·B[b] (+ bias[n]) (→ activation), register tiled.
// Layout: A and B are read through strides (sAb, sAm, sAk / sBb, sBk, sBn), so transposed operands
// and broadcast batches (stride 0) need no copies; out is contiguous [batch, M, N].
// Tiling: each invocation accumulates a ${TM}×(4·${NV}) block in vec4 registers (no workgroup
// memory, no barriers: the fast path on CPU Vulkan drivers); workgroup 8×8, so a workgroup covers
// (8·${TM}) rows × (32·${NV}) columns; gid.z is the batch (≤ 65535). Out-of-range rows/columns
// read clamped addresses and are never written, so odd sizes need no special case.
// Variants: BIAS adds bias[n]; RELU / SILU apply the activation in the epilogue.
// UNROLL (the swiftshader tuning) expands the tile's `#unroll` loops (engine/shader-unroll.ts), so
// every register index is a constant: SwiftShader keeps arrays indexed by a loop variable in memory.

struct Params { M: u32, N: u32, K: u32, sAb: u32, sAm: u32, sAk: u32, sBb: u32, sBk: u32, sBn: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
#if BIAS
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
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

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col0 = gid.x * 4u * ${NV}u;
  let row0 = gid.y * ${TM}u;
  if (row0 >= p.M || col0 >= p.N) { return; }
  let aBase = gid.z * p.sAb;
  let bBase = gid.z * p.sBb;
  var rowOff: array<u32, ${TM}>;
  #unroll
  for (var i = 0u; i < ${TM}u; i++) { rowOff[i] = aBase + min(row0 + i, p.M - 1u) * p.sAm; }
  var colOff: array<vec4<u32>, ${NV}>;
  #unroll
  for (var v = 0u; v < ${NV}u; v++) {
    let c = col0 + v * 4u;
    colOff[v] = bBase + min(vec4<u32>(c, c + 1u, c + 2u, c + 3u), vec4<u32>(p.N - 1u)) * p.sBn;
  }
  var acc: array<array<vec4<f32>, ${NV}>, ${TM}>;
  for (var k = 0u; k < p.K; k++) {
    var bv: array<vec4<f32>, ${NV}>;
    let kb = k * p.sBk;
    #unroll
    for (var v = 0u; v < ${NV}u; v++) {
      let o = colOff[v] + vec4<u32>(kb);
      bv[v] = vec4<f32>(b[o.x], b[o.y], b[o.z], b[o.w]);
    }
    let ka = k * p.sAk;
    #unroll
    for (var i = 0u; i < ${TM}u; i++) {
      let av = vec4<f32>(a[rowOff[i] + ka]);
      #unroll
      for (var v = 0u; v < ${NV}u; v++) { acc[i][v] = fma(av, bv[v], acc[i][v]); }
    }
  }
  #unroll
  for (var i = 0u; i < ${TM}u; i++) {
    let row = row0 + i;
    if (row >= p.M) { return; }
    let outRow = (gid.z * p.M + row) * p.N;
    #unroll
    for (var v = 0u; v < ${NV}u; v++) {
      #unroll
      for (var j = 0u; j < 4u; j++) {
        let col = col0 + v * 4u + j;
        if (col < p.N) {
#if BIAS
          out[outRow + col] = activate(acc[i][v][j] + bias[col]);
#else
          out[outRow + col] = activate(acc[i][v][j]);
#endif
        }
      }
    }
  }
}
