// Elementwise binary op with NumPy broadcasting over up to 4 dimensions.
// Layout: out is contiguous [d0,d1,d2,d3] (shapes are right-aligned and padded with 1s on the
// left); a and b are read through strides in which broadcast dimensions have stride 0.
// Dispatch: each invocation handles a run of ${RUN} consecutive output elements (see
// engine/ops/tuning.ts), ${WG} per workgroup, folded into y past the x limit.
// Variants: exactly one of ADD, SUB, MUL, DIV, MIN, MAX. SAME_SHAPE skips the index arithmetic
// when neither operand broadcasts (most calls; the divisions cost more than the op on CPU drivers);
// broadcasting runs divide once per run and carry the 4-D index from element to element.

struct Params {
  size: u32, groupsX: u32, d1: u32, d2: u32,
  d3: u32, sa0: u32, sa1: u32, sa2: u32,
  sa3: u32, sb0: u32, sb1: u32, sb2: u32,
  sb3: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = (gid.x + gid.y * p.groupsX * ${WG}u) * ${RUN}u;
  let last = min(first + ${RUN}u, p.size);
#if !SAME_SHAPE
  // The run's first index is split into (i0, i1, i2, i3) once; later elements carry it forward,
  // so the divisions are paid once per run, not per element.
  var i3 = first % p.d3;
  var i2 = (first / p.d3) % p.d2;
  var i1 = (first / (p.d3 * p.d2)) % p.d1;
  var i0 = first / (p.d3 * p.d2 * p.d1);
#endif
  for (var i = first; i < last; i++) {
#if SAME_SHAPE
    let va = a[i];
    let vb = b[i];
#else
    let va = a[i0 * p.sa0 + i1 * p.sa1 + i2 * p.sa2 + i3 * p.sa3];
    let vb = b[i0 * p.sb0 + i1 * p.sb1 + i2 * p.sb2 + i3 * p.sb3];
    i3++;
    if (i3 == p.d3) {
      i3 = 0u;
      i2++;
      if (i2 == p.d2) {
        i2 = 0u;
        i1++;
        if (i1 == p.d1) {
          i1 = 0u;
          i0++;
        }
      }
    }
#endif
#if ADD
    out[i] = va + vb;
#elif SUB
    out[i] = va - vb;
#elif MUL
    out[i] = va * vb;
#elif DIV
    out[i] = va / vb;
#elif MIN
    out[i] = min(va, vb);
#elif MAX
    out[i] = max(va, vb);
#endif
  }
}
