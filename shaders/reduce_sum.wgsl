// Sum over a set of axes of a tensor of rank ≤ 4 (the reduced axes keep extent 1 in the output).
// Used for sum/mean and for reducing broadcast gradients back to an operand's shape.
// Layout: input contiguous [d0..d3]; output contiguous over the kept axes. Each invocation owns
// one output element and walks the reduced sub-box serially (r0..r3 extents, input strides s0..s3).
// Terms are summed in blocks of 256 whose partial sums are then added, so rounding grows like
// n/256 + 256 instead of n (Kahan compensation is not an option: Mesa folds it away).
// Dispatch: one invocation per output element, ${WG} per workgroup, folded into y past the x limit.

struct Params {
  outSize: u32, groupsX: u32, o1: u32, o2: u32,
  o3: u32, s0: u32, s1: u32, s2: u32,
  s3: u32, r0: u32, r1: u32, r2: u32,
  r3: u32, scale: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * ${WG}u;
  if (i >= p.outSize) { return; }
  let j3 = i % p.o3;
  let j2 = (i / p.o3) % p.o2;
  let j1 = (i / (p.o3 * p.o2)) % p.o1;
  let j0 = i / (p.o3 * p.o2 * p.o1);
  // A reduced axis has output extent 1, so its coordinate is 0 and only the loop moves along it.
  let base = j0 * p.s0 + j1 * p.s1 + j2 * p.s2 + j3 * p.s3;
  var total = 0.0;
  var block = 0.0;
  var inBlock = 0u;
  for (var a = 0u; a < p.r0; a++) {
    for (var b = 0u; b < p.r1; b++) {
      for (var c = 0u; c < p.r2; c++) {
        let row = base + a * p.s0 + b * p.s1 + c * p.s2;
        for (var d = 0u; d < p.r3; d++) {
          block += x[row + d * p.s3];
          inBlock++;
          if (inBlock == 256u) {
            total += block;
            block = 0.0;
            inBlock = 0u;
          }
        }
      }
    }
  }
  out[i] = (total + block) * p.scale;
}
