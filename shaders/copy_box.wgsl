// Copies a 4-D box of elements from one tensor into another.
// For each box coordinate i = (i0, i1, i2, i3) with i_k < extent_k:
//   source coordinate s_k = srcOffset_k + i_k · srcStep_k   (signed)
//   dst[dstBase + Σ i_k · dstStride_k] = src[Σ s_k · srcStride_k] if every 0 ≤ s_k < srcExtent_k, else 0.
// dstStride_k already includes the destination step, so a box can land on every other pixel.
// Reading outside the source as zero makes one kernel do zero padding (negative offsets),
// cropping and channel slicing (positive offsets), ::2 subsampling (step 2), channel concat (a
// dstBase at the channel offset) and all their gradients.
// Layout: both tensors contiguous, viewed as rank 4. Dispatch: each invocation copies a run of
// ${RUN} consecutive box elements (engine/ops/tuning.ts flatRun), ${WG} per workgroup, folded into y
// past maxComputeWorkgroupsPerDimension.

struct Params {
  size: u32, groupsX: u32, e1: u32, e2: u32,
  e3: u32, dstBase: u32, dstStride0: u32, dstStride1: u32,
  dstStride2: u32, dstStride3: u32, srcOffset0: i32, srcOffset1: i32,
  srcOffset2: i32, srcOffset3: i32, srcStep0: u32, srcStep1: u32,
  srcStep2: u32, srcStep3: u32, srcExtent0: u32, srcExtent1: u32,
  srcExtent2: u32, srcExtent3: u32, srcStride0: u32, srcStride1: u32,
  srcStride2: u32, srcStride3: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = (gid.x + gid.y * p.groupsX * ${WG}u) * ${RUN}u;
  let last = min(first + ${RUN}u, p.size);
  // The run's first coordinate is split once; later elements carry it forward (no divisions per element).
  var box = vec4<u32>(first / (p.e3 * p.e2 * p.e1), (first / (p.e3 * p.e2)) % p.e1, (first / p.e3) % p.e2, first % p.e3);
  for (var i = first; i < last; i++) {
    let s = vec4<i32>(p.srcOffset0, p.srcOffset1, p.srcOffset2, p.srcOffset3)
          + vec4<i32>(box * vec4<u32>(p.srcStep0, p.srcStep1, p.srcStep2, p.srcStep3));
    let at = p.dstBase + dot(box, vec4<u32>(p.dstStride0, p.dstStride1, p.dstStride2, p.dstStride3));
    // Negative coordinates wrap to huge u32 values, so one unsigned compare checks both bounds.
    let inside = vec4<u32>(s) < vec4<u32>(p.srcExtent0, p.srcExtent1, p.srcExtent2, p.srcExtent3);
    if (all(inside)) {
      dst[at] = src[dot(vec4<u32>(s), vec4<u32>(p.srcStride0, p.srcStride1, p.srcStride2, p.srcStride3))];
    } else {
      dst[at] = 0.0;
    }
    box.w++;
    if (box.w == p.e3) {
      box.w = 0u;
      box.z++;
      if (box.z == p.e2) {
        box.z = 0u;
        box.y++;
        if (box.y == p.e1) {
          box.y = 0u;
          box.x++;
        }
      }
    }
  }
}
