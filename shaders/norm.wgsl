// Group norm and layer norm: normalise rows of x with biased statistics per row, apply an affine
// map, optionally SiLU; and the gradients w.r.t. x, γ, β.
// Layout: x [N, ...] contiguous is a sequence of segments of `segmentLength` elements; each sample
// holds `channels` segments and each row `segmentsPerRow` consecutive segments.
//   group norm:  segment = one channel's H·W values, row = one group (C/G channels), γ/β [C]
//                indexed by channel = segment mod channels.
//   layer norm:  segment = row = one sample's C·H·W values, γ/β [C, H, W] indexed by the position
//                in the sample (ELEMENT_AFFINE).
// Row statistics are stored as (shift, offset, rstd) with mean = shift + offset, shift being the
// row's first value: x − mean = (x − shift) − offset keeps its precision under a large common offset.
// Passes, exactly one define set (the TS side chains them):
//   STATS        one invocation per row: mean, then the variance of the deviations (two-pass).
//   NORMALISE    (with STATS, TREE only) the statistics, then APPLY over the same row by the same
//                workgroup: one dispatch instead of two where a workgroup holds a row (GPU tunings).
//   APPLY        one invocation per run of ≤ ${RUN} elements of one segment: y = x̂·γ + β with
//                x̂ = (x − mean)·rstd; SILU fuses y·σ(y).
//   ROW_GRADS    one invocation per row: Σ dx̂ and Σ dx̂·x̂ with dx̂ = dy·γ. With SILU it also writes
//                dy = gradOut·silu'(x̂·γ + β), the pre-activation recomputed from x, for the later passes.
//   INPUT_GRAD   one invocation per run: dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)).
//   PARAM_GRADS  one invocation per parameter: dγ = Σ dy·x̂, dβ = Σ dy over the elements it scales.
// TREE (GPU tunings, STATS, NORMALISE and ROW_GRADS only): one workgroup per row instead of one invocation;
// its ${WG} invocations sum strided slices of the row and combine them through workgroup memory in
// log2(${WG}) barrier steps, so a row of thousands of values is not one GPU thread's serial walk.
// TREE + SUBGROUPS (GPUs with the subgroups feature): subgroupAdd first, then one value per subgroup
// through workgroup memory, 2 barriers a sum. Subgroup membership is the driver's choice, so the
// invocation subgroupElect picks writes its subgroup's sum at its own index, the others zero, and
// every invocation adds the ${WG} slots in order: independent of the mapping, the same every run.
// Otherwise everything is serial per invocation: no workgroup memory or barriers, and long runs, because CPU
// Vulkan drivers pay per invocation (runs of 64 made the apply pass several times faster on
// lavapipe than one element per invocation) and run barriers slowly. Runs never straddle segments, so a run's row
// and channel come from two divisions per run, not per element. Serial sums add blocks of ${BLOCK}
// first, so rounding grows with n/${BLOCK} + ${BLOCK}, not n.
// VEC4 (serial STATS and APPLY, where every row (STATS) or segment (APPLY) is a whole number of
// vec4s): x, the elementwise γ/β and y are read and written 4 values a load. CPU drivers load
// storage buffers one lane at a time, so this quarters the loads (lavapipe: see engine/ops/norm.ts).
// ${WG} invocations per workgroup; the flat grid folds into y past maxComputeWorkgroupsPerDimension
// (linear id = x + y·groupsX·WG).

#if SUBGROUPS
enable subgroups;
#endif

struct Params {
  count: u32,          // invocations: rows, runs or parameters, depending on the pass
  groupsX: u32,
  rowLength: u32,
  segmentLength: u32,
  segmentsPerRow: u32,
  runsPerSegment: u32,
  channels: u32,       // segments per sample
  batch: u32,
  eps: f32,
}

struct RowStats { shift: f32, offset: f32, rstd: f32 }

#if VEC4
alias Value = vec4<f32>;
const LANES = 4u;
fn firstOf(v: Value) -> f32 { return v.x; }
fn sumOf(v: Value) -> f32 { return (v.x + v.y) + (v.z + v.w); }
#else
alias Value = f32;
const LANES = 1u;
fn firstOf(v: Value) -> f32 { return v; }
fn sumOf(v: Value) -> f32 { return v; }
#endif

@group(0) @binding(0) var<storage, read> x: array<Value>;
#if STATS
@group(0) @binding(1) var<storage, read_write> stats: array<RowStats>;
#if NORMALISE
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#else
@group(0) @binding(2) var<uniform> p: Params;
#endif
#elif APPLY
@group(0) @binding(1) var<storage, read> stats: array<RowStats>;
#if ELEMENT_AFFINE
@group(0) @binding(2) var<storage, read> gamma: array<Value>;
@group(0) @binding(3) var<storage, read> beta: array<Value>;
#else
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> y: array<Value>;
@group(0) @binding(5) var<uniform> p: Params;
#elif ROW_GRADS
@group(0) @binding(1) var<storage, read> stats: array<RowStats>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> gradOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowGrads: array<vec2<f32>>;
#if SILU
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dy: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;
#else
@group(0) @binding(5) var<uniform> p: Params;
#endif
#elif INPUT_GRAD
@group(0) @binding(1) var<storage, read> stats: array<RowStats>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> rowGrads: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
#elif PARAM_GRADS
@group(0) @binding(1) var<storage, read> stats: array<RowStats>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dGamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dBeta: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#endif

fn normalised(v: Value, s: RowStats) -> Value {
  return ((v - s.shift) - s.offset) * s.rstd;
}

fn silu(v: Value) -> Value {
  return v / (1.0 + exp(-v));
}

fn siluDerivative(v: f32) -> f32 {
  let s = 1.0 / (1.0 + exp(-v));
  return s * (1.0 + v * (1.0 - s));
}

fn activate(v: Value) -> Value {
#if SILU
  return silu(v);
#else
  return v;
#endif
}

/** A run of elements [base + first, base + last) inside one segment, and its row and channel. */
struct Run { base: u32, first: u32, last: u32, row: u32, channel: u32 }

fn runOf(id: u32) -> Run {
  let seg = id / p.runsPerSegment;
  let first = (id - seg * p.runsPerSegment) * ${RUN}u;
  return Run(seg * p.segmentLength, first, min(first + ${RUN}u, p.segmentLength), seg / p.segmentsPerRow, seg % p.channels);
}

#if TREE
var<workgroup> partial: array<vec2<f32>, ${WG}>;

#if SUBGROUPS
/** The sum of every invocation's value; all ${WG} must call it, in uniform control flow. */
fn rowSum(value: vec2<f32>, lane: u32) -> vec2<f32> {
  partial[lane] = select(vec2<f32>(0.0), subgroupAdd(value), subgroupElect());
  workgroupBarrier();
  var result = partial[0];
  for (var i = 1u; i < ${WG}u; i++) { result += partial[i]; }
  // Nobody overwrites a slot for the next sum before everyone has read them all.
  workgroupBarrier();
  return result;
}
#else
/** The sum of every invocation's value; all ${WG} must call it, in uniform control flow (${WG} is a power of two). */
fn rowSum(value: vec2<f32>, lane: u32) -> vec2<f32> {
  partial[lane] = value;
  workgroupBarrier();
  for (var stride = ${WG}u / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) { partial[lane] += partial[lane + stride]; }
    workgroupBarrier();
  }
  let result = partial[0];
  // Nobody overwrites partial[0] for the next sum before everyone has read it.
  workgroupBarrier();
  return result;
}
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  // One row per workgroup: the bound is uniform across the group, so the barriers below stay legal.
  let id = wg.x + wg.y * p.groupsX;
  if (id >= p.count) { return; }
  let base = id * p.rowLength;
#if STATS
  let shift = x[base];
  var part = 0.0;
  for (var m = lane; m < p.rowLength; m += ${WG}u) { part += x[base + m] - shift; }
  let offset = rowSum(vec2<f32>(part, 0.0), lane).x / f32(p.rowLength);
  var squares = 0.0;
  for (var m = lane; m < p.rowLength; m += ${WG}u) {
    let d = (x[base + m] - shift) - offset;
    squares += d * d;
  }
  let total = rowSum(vec2<f32>(squares, 0.0), lane).x;
  let s = RowStats(shift, offset, 1.0 / sqrt(total / f32(p.rowLength) + p.eps));
  if (lane == 0u) { stats[id] = s; }
#if NORMALISE
  // Every invocation holds the row's statistics (rowSum returns the total to all), so the row is
  // applied where it was reduced, as APPLY would: γ/β per element (layer norm) or per channel.
  for (var m = lane; m < p.rowLength; m += ${WG}u) {
    let i = base + m;
#if ELEMENT_AFFINE
    let q = i % p.segmentLength;
#else
    let q = (i / p.segmentLength) % p.channels;
#endif
    y[i] = activate(normalised(x[i], s) * gamma[q] + beta[q]);
  }
#endif
#elif ROW_GRADS
  let s = stats[id];
  var sums = vec2<f32>(0.0);
  // A row is segmentsPerRow consecutive segments, so its elements are contiguous from base.
  for (var m = lane; m < p.rowLength; m += ${WG}u) {
    let i = base + m;
    let seg = i / p.segmentLength;
#if ELEMENT_AFFINE
    let q = i - seg * p.segmentLength;
#else
    let q = seg % p.channels;
#endif
    let xhat = normalised(x[i], s);
#if SILU
    let g = gradOut[i] * siluDerivative(xhat * gamma[q] + beta[q]);
    dy[i] = g;
#else
    let g = gradOut[i];
#endif
    let dxhat = g * gamma[q];
    sums += vec2<f32>(dxhat, dxhat * xhat);
  }
  let total = rowSum(sums, lane);
  if (lane == 0u) { rowGrads[id] = total; }
#endif
}
#else
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let id = gid.x + gid.y * p.groupsX * ${WG}u;
  if (id >= p.count) { return; }
#if STATS
  // In Values (vec4s under VEC4): the row's start and length divide exactly.
  let base = id * p.rowLength / LANES;
  let length = p.rowLength / LANES;
  let shift = firstOf(x[base]);
  var total = 0.0;
  for (var b = 0u; b < length; b += ${BLOCK}u) {
    var part = Value(0.0);
    for (var m = b; m < min(b + ${BLOCK}u, length); m++) { part += x[base + m] - shift; }
    total += sumOf(part);
  }
  let offset = total / f32(p.rowLength);
  var squares = 0.0;
  for (var b = 0u; b < length; b += ${BLOCK}u) {
    var part = Value(0.0);
    for (var m = b; m < min(b + ${BLOCK}u, length); m++) {
      let d = (x[base + m] - shift) - offset;
      part += d * d;
    }
    squares += sumOf(part);
  }
  // 1/sqrt rather than inverseSqrt, which may be a low-precision approximation.
  stats[id] = RowStats(shift, offset, 1.0 / sqrt(squares / f32(p.rowLength) + p.eps));
#elif APPLY
  let r = runOf(id);
  let s = stats[r.row];
  // In Values (vec4s under VEC4): segments and runs are whole vec4s there.
  let base = r.base / LANES;
#if ELEMENT_AFFINE
  for (var j = r.first / LANES; j < r.last / LANES; j++) {
    y[base + j] = activate(normalised(x[base + j], s) * gamma[j] + beta[j]);
  }
#else
  // Centring before scaling: folding the mean into the bias instead (x·a + b) would cancel large
  // terms whenever the row's first value is far from its mean.
  let a = s.rstd * gamma[r.channel];
  let b = beta[r.channel];
  for (var j = r.first / LANES; j < r.last / LANES; j++) { y[base + j] = activate(((x[base + j] - s.shift) - s.offset) * a + b); }
#endif
#elif ROW_GRADS
  let s = stats[id];
  var sums = vec2<f32>(0.0);
  for (var k = 0u; k < p.segmentsPerRow; k++) {
    let seg = id * p.segmentsPerRow + k;
    let base = seg * p.segmentLength;
    // γ (and β) of the current element. Per channel they are loaded once per segment: the compiler
    // does not hoist loads out of a loop that also stores.
    var gammaQ = gamma[seg % p.channels];
#if SILU
    var betaQ = beta[seg % p.channels];
#endif
    for (var b = 0u; b < p.segmentLength; b += ${BLOCK}u) {
      var part = vec2<f32>(0.0);
      for (var j = b; j < min(b + ${BLOCK}u, p.segmentLength); j++) {
        let i = base + j;
#if ELEMENT_AFFINE
        gammaQ = gamma[j];
#if SILU
        betaQ = beta[j];
#endif
#endif
        let xhat = normalised(x[i], s);
#if SILU
        let g = gradOut[i] * siluDerivative(xhat * gammaQ + betaQ);
        dy[i] = g;
#else
        let g = gradOut[i];
#endif
        let dxhat = g * gammaQ;
        part += vec2<f32>(dxhat, dxhat * xhat);
      }
      sums += part;
    }
  }
  rowGrads[id] = sums;
#elif INPUT_GRAD
  let r = runOf(id);
  let s = stats[r.row];
  let means = rowGrads[r.row] * (s.rstd / f32(p.rowLength));
#if ELEMENT_AFFINE
  for (var j = r.first; j < r.last; j++) {
    let i = r.base + j;
    dx[i] = s.rstd * gamma[j] * dy[i] - means.x - normalised(x[i], s) * means.y;
  }
#else
  let a = s.rstd * gamma[r.channel];
  for (var j = r.first; j < r.last; j++) {
    let i = r.base + j;
    dx[i] = a * dy[i] - means.x - normalised(x[i], s) * means.y;
  }
#endif
#elif PARAM_GRADS
  var sums = vec2<f32>(0.0);
  for (var n = 0u; n < p.batch; n++) {
#if ELEMENT_AFFINE
    // Layer norm: parameter id scales element id of each sample, and a sample is one row.
    let i = n * p.segmentLength + id;
    sums += vec2<f32>(dy[i] * normalised(x[i], stats[n]), dy[i]);
#else
    let seg = n * p.channels + id;
    let s = stats[seg / p.segmentsPerRow];
    let base = seg * p.segmentLength;
    for (var b = 0u; b < p.segmentLength; b += ${BLOCK}u) {
      var part = vec2<f32>(0.0);
      for (var j = b; j < min(b + ${BLOCK}u, p.segmentLength); j++) {
        let i = base + j;
        part += vec2<f32>(dy[i] * normalised(x[i], s), dy[i]);
      }
      sums += part;
    }
#endif
  }
  dGamma[id] = sums.x;
  dBeta[id] = sums.y;
#endif
}
#endif
