// Counter-based noise: standard normal, or uniform in [−1, 1) in the UNIFORM variant. Element e of row r gets Philox4x32-10(counter = (index_lo,
// index_hi, stream, 0), key = seed) → Box–Muller, where index = (firstRow + r)·rowLength + e.
// Every value depends only on (seed, stream, global index), so a batch gives the same noise for
// an image whatever way the batch is split across calls, workers or devices.
// Dispatch: one invocation per element, ${WG} per workgroup, folded into y past the x limit.

struct Params { size: u32, groupsX: u32, rowLength: u32, firstRow: u32, stream: u32, seedLo: u32, seedHi: u32 }

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

// 32×32 → 64-bit product as (hi, lo), from 16-bit halves (WGSL has no 64-bit integers).
fn mulWide(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let lo = (p00 & 0xffffu) | (mid << 16u);
  let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, lo);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let m0 = mulWide(0xD2511F53u, c.x);
    let m1 = mulWide(0xCD9E8D57u, c.z);
    c = vec4<u32>(m1.x ^ c.y ^ k.x, m1.y, m0.x ^ c.w ^ k.y, m0.y);
    k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * ${WG}u;
  if (i >= p.size) { return; }
  let row = p.firstRow + i / p.rowLength;
  let e = i % p.rowLength;
  // index = row·rowLength + e as a 64-bit (hi, lo) pair.
  let prod = mulWide(row, p.rowLength);
  let lo = prod.y + e;
  let hi = prod.x + select(0u, 1u, lo < prod.y);
  let bits = philox(vec4<u32>(lo, hi, p.stream, 0u), vec2<u32>(p.seedLo, p.seedHi));
  let u2 = f32(bits.y >> 8u) / 16777216.0;
#if UNIFORM
  out[i] = 2.0 * u2 - 1.0;
#else
  // u1 in (0, 1]: never 0, so the logarithm is finite.
  let u1 = (f32(bits.x >> 8u) + 1.0) / 16777216.0;
  out[i] = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
#endif
}
