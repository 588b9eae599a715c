// Group norm and layer norm: normalise the rows of x viewed as [N, G, M] with biased statistics per
// row (n, g), then an affine map, optionally followed by SiLU. Group norm has M = (C/G)·H·W; layer
// norm over (C, H, W) has G = 1, M = C·H·W.
// Affine parameters are indexed by (offset within the sample) / paramStride: paramStride = H·W gives
// per-channel γ/β [C] (group norm), paramStride = 1 per-element γ/β [C, H, W] (layer norm).
// Passes, exactly one define set (the TS side chains them):
//   STATS        one invocation per row: mean, then the variance of the deviations (two-pass)
//                → stats[row] = (mean, rstd = 1/√(var + eps)).
//   APPLY        one invocation per element: y = x̂·γ + β, x̂ = (x − mean)·rstd; SILU fuses y·σ(y).
//   SILU_GRAD    one invocation per element: dy = gradOut·silu'(x̂·γ + β), the pre-activation being
//                recomputed from x so the forward pass keeps nothing but the stats.
//   ROW_GRADS    one invocation per row: Σ dx̂ and Σ dx̂·x̂ with dx̂ = dy·γ → rowGrads[row].
//   INPUT_GRAD   one invocation per element: dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)).
//   PARAM_GRADS  one invocation per parameter: dγ = Σ dy·x̂, dβ = Σ dy over the batch and the
//                paramStride elements that share the parameter.
// Row and parameter passes loop serially (no workgroup memory, no barriers: CPU Vulkan drivers run
// those slowly) and sum in blocks of ${BLOCK} so rounding error grows with M/${BLOCK} + ${BLOCK},
// not M. ${WG} invocations per workgroup; the flat grid folds into y past
// maxComputeWorkgroupsPerDimension (linear id = x + y·groupsX·WG).

struct Params {
  count: u32,        // invocations: rows, elements or parameters, depending on the pass
  groupsX: u32,
  M: u32,            // row length
  sampleSize: u32,   // G·M
  paramStride: u32,
  batch: u32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
#if STATS
@group(0) @binding(1) var<storage, read_write> stats: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> p: Params;
#elif APPLY
@group(0) @binding(1) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#elif SILU_GRAD
@group(0) @binding(1) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> gradOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> dy: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
#elif ROW_GRADS
@group(0) @binding(1) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowGrads: array<vec2<f32>>;
@group(0) @binding(5) var<uniform> p: Params;
#elif INPUT_GRAD
@group(0) @binding(1) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> rowGrads: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
#elif PARAM_GRADS
@group(0) @binding(1) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dGamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dBeta: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#endif

/** Index of the affine parameter of flat element i. */
fn paramOf(i: u32) -> u32 {
  return (i % p.sampleSize) / p.paramStride;
}

fn normalised(i: u32, s: vec2<f32>) -> f32 {
  return (x[i] - s.x) * s.y;
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let id = gid.x + gid.y * p.groupsX * ${WG}u;
  if (id >= p.count) { return; }
#if STATS
  let base = id * p.M;
  // Summing offsets from the row's first value keeps a large common offset from costing precision.
  let shift = x[base];
  var total = 0.0;
  for (var b = 0u; b < p.M; b += ${BLOCK}u) {
    var part = 0.0;
    for (var m = b; m < min(b + ${BLOCK}u, p.M); m++) { part += x[base + m] - shift; }
    total += part;
  }
  let mean = shift + total / f32(p.M);
  var squares = 0.0;
  for (var b = 0u; b < p.M; b += ${BLOCK}u) {
    var part = 0.0;
    for (var m = b; m < min(b + ${BLOCK}u, p.M); m++) {
      let d = x[base + m] - mean;
      part += d * d;
    }
    squares += part;
  }
  // 1/sqrt rather than inverseSqrt: the latter may be a low-precision approximation.
  stats[id] = vec2<f32>(mean, 1.0 / sqrt(squares / f32(p.M) + p.eps));
#elif APPLY
  let q = paramOf(id);
  let v = normalised(id, stats[id / p.M]) * gamma[q] + beta[q];
#if SILU
  y[id] = v / (1.0 + exp(-v));
#else
  y[id] = v;
#endif
#elif SILU_GRAD
  let q = paramOf(id);
  let v = normalised(id, stats[id / p.M]) * gamma[q] + beta[q];
  let s = 1.0 / (1.0 + exp(-v));
  dy[id] = gradOut[id] * s * (1.0 + v * (1.0 - s));
#elif ROW_GRADS
  let base = id * p.M;
  let s = stats[id];
  var sums = vec2<f32>(0.0);
  for (var b = 0u; b < p.M; b += ${BLOCK}u) {
    var part = vec2<f32>(0.0);
    for (var m = b; m < min(b + ${BLOCK}u, p.M); m++) {
      let i = base + m;
      let dxhat = dy[i] * gamma[paramOf(i)];
      part += vec2<f32>(dxhat, dxhat * normalised(i, s));
    }
    sums += part;
  }
  rowGrads[id] = sums;
#elif INPUT_GRAD
  let row = id / p.M;
  let s = stats[row];
  let means = rowGrads[row] / f32(p.M);
  dx[id] = s.y * (dy[id] * gamma[paramOf(id)] - means.x - normalised(id, s) * means.y);
#elif PARAM_GRADS
  // The paramStride elements of one parameter lie inside one row of each sample.
  let offset = id * p.paramStride;
  var sums = vec2<f32>(0.0);
  for (var n = 0u; n < p.batch; n++) {
    let first = n * p.sampleSize + offset;
    let s = stats[first / p.M];
    var part = vec2<f32>(0.0);
    for (var k = 0u; k < p.paramStride; k++) {
      let i = first + k;
      part += vec2<f32>(dy[i] * normalised(i, s), dy[i]);
    }
    sums += part;
  }
  dGamma[id] = sums.x;
  dBeta[id] = sums.y;
#endif
}
