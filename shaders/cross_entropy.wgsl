// Label-indexed row ops on [rows, K] scores, labels given as f32 class indices:
//   CE_FORWARD   per row: lse = max + log Σ exp(x − max), loss = lse − x[label]  (one invocation per row)
//   CE_BACKWARD  gradIn[r, k] = gradOut[0] · scale · (exp(x[r, k] − lse[r]) − [k = label])
//                (scale = 1/rows for the batch mean; one invocation per element)
//   GATHER       out[r] = x[r, label[r]]  (one invocation per row)
//   SCATTER      gradIn[r, k] = [k = label[r]] · gradOut[r]  (GATHER's gradient, one per element)
// A label that is not an integer in [0, K) turns its outputs into NaN rather than reading a wrong
// column. Dispatch: ${WG} per workgroup, folded into y past maxComputeWorkgroupsPerDimension.

struct Params { size: u32, groupsX: u32, K: u32, scale: f32 }

#if CE_FORWARD
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowLse: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#elif CE_BACKWARD
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read> rowLse: array<f32>;
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
  var peak = x[row];
  for (var k = 1u; k < p.K; k++) { peak = max(peak, x[row + k]); }
  var total = 0.0;
  for (var k = 0u; k < p.K; k++) { total += exp(x[row + k] - peak); }
  let lse = peak + log(total);
  rowLse[i] = lse;
  rowLoss[i] = select(nan, lse - x[row + min(label, p.K - 1u)], label < p.K);
#elif CE_BACKWARD
  let label = column(i / p.K);
  let hit = select(0.0, 1.0, i % p.K == label);
  let g = gradOut[0] * p.scale * (exp(x[i] - rowLse[i / p.K]) - hit);
  gradIn[i] = select(nan, g, label < p.K);
#elif GATHER
  let label = column(i);
  out[i] = select(nan, x[i * p.K + min(label, p.K - 1u)], label < p.K);
#elif SCATTER
  let label = column(i / p.K);
  gradIn[i] = select(nan, select(0.0, gradOut[i / p.K], i % p.K == label), label < p.K);
#endif
}
