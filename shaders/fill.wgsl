// Fills a flat f32 array with one value. Each invocation fills a run of ${RUN} elements, ${WG}
// per workgroup, folded into y past the x limit.

struct Params { size: u32, groupsX: u32, value: f32 }

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = (gid.x + gid.y * p.groupsX * ${WG}u) * ${RUN}u;
  let last = min(first + ${RUN}u, p.size);
  for (var i = first; i < last; i++) { out[i] = p.value; }
}
