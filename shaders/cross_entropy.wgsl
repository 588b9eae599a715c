// Label-indexed row ops on [rows, K] scores, labels given as f32 class indices:
//   CE_FORWARD   per row (one invocation each): loss = −log p[label] with p = softmax(x), and
//                stats = (lse, 1 − p[label]), lse = max + log Σ exp(x − max)
//   CE_BACKWARD  gradIn[r, k] = gradOut[0] · scale · (p[r, k] − [k = label]), per element; scale is
//                1/rows for the batch mean
//   GATHER       out[r] = x[r, label[r]]  (one invocation per row)
//   SCATTER      gradIn[r, k] = [k = label[r]] · gradOut[r]  (GATHER's gradient, one per element)
// Precision: 1 − p[label] is summed from the other classes' terms, never formed as 1 − p, and a
// confident row's loss is log1p of that sum's ratio, so confidently classified rows keep their
// small loss and label-column gradient to f32 relative precision (p − 1 in f32 would cancel).
// A label that is not an integer in [0, K) turns its outputs into NaN rather than reading a wrong
// column. Dispatch: ${WG} per workgroup, folded into y past maxComputeWorkgroupsPerDimension.

struct Params { size: u32, groupsX: u32, K: u32, scale: f32 }

#if CE_FORWARD
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowStats: array<vec2<f32>>;
@group(0) @binding(4) var<uniform> p: Params;
#elif CE_BACKWARD
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read> rowStats: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> gradOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> gradIn: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#elif GATHER
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#elif SCATTER
@group(0) @binding(0) var<storage, read> gradOut: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradIn: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#endif

// A private variable, not a constant, so that no compiler folds the NaN away or rejects it.
var<private> nanBits = 0x7fc00000u;

/**
 * log(1 + u) for 0 ≤ u ≤ 1 as 2·atanh(s) = 2(s + s³/3 + s⁵/5 + …), s = u / (2 + u) ≤ ⅓: nine terms
 * reach f32 precision. (Goldberg's log(w)·u / (w − 1) with w = 1 + u does not survive compilers
 * that simplify (1 + u) − 1 to u, as Mesa's does.)
 */
fn log1p(u: f32) -> f32 {
  let s = u / (2.0 + u);
  let s2 = s * s;
  var series = 0.0;
  for (var k = 8; k >= 0; k--) { series = series * s2 + 1.0 / f32(2 * k + 1); }
  return 2.0 * s * series;
}

/** The row's label as a column, or K when it is not an integer class index in [0, K). */
fn column(row: u32) -> u32 {
  let label = labels[row];
  let k = u32(max(label, 0.0));
  if (label >= 0.0 && f32(k) == label && k < p.K) { return k; }
  return p.K;
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * ${WG}u;
  if (i >= p.size) { return; }
  let nan = bitcast<f32>(nanBits);
#if CE_FORWARD
  let label = column(i);
  let row = i * p.K;
  let labelScore = x[row + min(label, p.K - 1u)];
  var peak = x[row];
  for (var k = 1u; k < p.K; k++) { peak = max(peak, x[row + k]); }
  var others = 0.0;
  for (var k = 0u; k < p.K; k++) {
    if (k != label) { others += exp(x[row + k] - peak); }
  }
  let own = exp(labelScore - peak);
  let total = own + others;
  // −log p = log1p(others / own) keeps a likely label's tiny loss; for an unlikely one (p < ½) both
  // terms of the first form are positive, and others / own could overflow.
  let loss = select((peak - labelScore) + log(total), log1p(others / own), others < own);
  rowLoss[i] = select(nan, loss, label < p.K);
  rowStats[i] = vec2<f32>(peak + log(total), others / total);
#elif CE_BACKWARD
  let r = i / p.K;
  let label = column(r);
  let stats = rowStats[r];
  let grad = select(exp(x[i] - stats.x), -stats.y, i % p.K == label);
  gradIn[i] = select(nan, gradOut[0] * p.scale * grad, label < p.K);
#elif GATHER
  let label = column(i);
  out[i] = select(nan, x[i * p.K + min(label, p.K - 1u)], label < p.K);
#elif SCATTER
  let label = column(i / p.K);
  gradIn[i] = select(nan, select(0.0, gradOut[i / p.K], i % p.K == label), label < p.K);
#endif
}
