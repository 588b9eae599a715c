// Per-channel affine map y = x·scale[c] + shift[c] over x [N, C, S] (S = H·W, NCHW contiguous):
// batch norm in inference mode, with scale and shift folded from the running statistics.
// Passes, exactly one define set:
//   PREPARE      one invocation per channel: scale = γ/√(var + eps), shift = β − mean·scale,
//                stored interleaved as affine[c] = (scale, shift).
//   APPLY        one invocation per run of ≤ ${RUN} elements of one (n, c) plane: out = x·scale[c] + shift[c];
//                without SHIFT out = x·scale[c], which is also the gradient w.r.t. x given gradOut as x.
//                Runs rather than single elements: CPU Vulkan drivers pay per invocation (see norm.wgsl).
//   PARAM_GRADS  one invocation per channel: dγ = Σ gradOut·(x − mean)/√(var + eps), dβ = Σ gradOut
//                over N and S, summed serially per sample (no workgroup memory, no barriers).
// ${WG} invocations per workgroup; the flat grid folds into y past maxComputeWorkgroupsPerDimension
// (linear id = x + y·groupsX·WG).

struct Params {
  count: u32,   // invocations: channels or runs, depending on the pass
  groupsX: u32,
  channels: u32,
  spatial: u32,
  runsPerPlane: u32,
  batch: u32,
  eps: f32,
}

#if PREPARE
@group(0) @binding(0) var<storage, read> mean: array<f32>;
@group(0) @binding(1) var<storage, read> variance: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> affine: array<vec2<f32>>;
@group(0) @binding(5) var<uniform> p: Params;
#elif APPLY
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> affine: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#elif PARAM_GRADS
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gradOut: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> variance: array<f32>;
@group(0) @binding(4) var<storage, read_write> dGamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dBeta: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let id = gid.x + gid.y * p.groupsX * ${WG}u;
  if (id >= p.count) { return; }
#if PREPARE
  let scale = gamma[id] / sqrt(variance[id] + p.eps);
  affine[id] = vec2<f32>(scale, beta[id] - mean[id] * scale);
#elif APPLY
  let plane = id / p.runsPerPlane;
  let base = plane * p.spatial;
  let first = (id - plane * p.runsPerPlane) * ${RUN}u;
  let a = affine[plane % p.channels];
#if SHIFT
  let shift = a.y;
#else
  let shift = 0.0;
#endif
  for (var k = first; k < min(first + ${RUN}u, p.spatial); k++) { out[base + k] = x[base + k] * a.x + shift; }
#elif PARAM_GRADS
  let m = mean[id];
  var sums = vec2<f32>(0.0);
  for (var n = 0u; n < p.batch; n++) {
    let first = (n * p.channels + id) * p.spatial;
    var part = vec2<f32>(0.0);
    for (var k = 0u; k < p.spatial; k++) {
      let g = gradOut[first + k];
      part += vec2<f32>(g * (x[first + k] - m), g);
    }
    sums += part;
  }
  dGamma[id] = sums.x / sqrt(variance[id] + p.eps);
  dBeta[id] = sums.y;
#endif
}
