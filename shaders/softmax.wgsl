// Softmax and log-softmax of s·x over the last dimension (s: a scale folded in for attention),
// numerically stable by subtracting the row maximum; and their gradients.
// Layout: x contiguous [rows, length]. Two reductions per row (max and sum; the backward: one sum):
//   serial (CPU drivers): one invocation per row walks it, no workgroup memory, no barriers (CPU
//     Vulkan drivers run those slowly), summing in blocks of ${BLOCK} so rounding grows with
//     length/${BLOCK} + ${BLOCK}; ${WG} rows per workgroup.
//   TREE (GPUs): one workgroup of ${WG} invocations (a power of two) per row, each taking every
//     ${WG}-th element, then a tree over workgroup memory (log2 ${WG} barriers per reduction);
//     rounding grows with length/${WG} + log2 ${WG}.
//   TREE + SUBGROUPS (GPUs with the subgroups feature): the same strided partials, combined by
//     subgroupAdd / subgroupMax, then one value per subgroup through workgroup memory: 2 barriers
//     per reduction instead of log2 ${WG} + 2. Which invocations share a subgroup is the driver's
//     choice, so the invocation subgroupElect picks writes its subgroup's value at its own index,
//     every other one the neutral element, and each invocation walks the ${WG} slots in order: the
//     result does not depend on the mapping and is the same on every run.
// The grid folds into y past maxComputeWorkgroupsPerDimension (linear id = x + y·groupsX·WG, TREE:
// row = x + y·groupsX).
// Variants: LOG selects log-softmax. BACKWARD maps (y, gradOut) to gradIn, y being the forward output:
//   softmax:      gradIn = s·y·(gradOut − Σ gradOut·y)
//   log-softmax:  gradIn = s·(gradOut − exp(y)·Σ gradOut)

#if SUBGROUPS
enable subgroups;
#endif

struct Params { rows: u32, length: u32, groupsX: u32, scale: f32 }

#if BACKWARD
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> gradOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradIn: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#else
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#endif

#if TREE
var<workgroup> partial: array<f32, ${WG}>;

/** The lowest finite f32: the neutral element of max for lanes past the end of a short row. */
const LOWEST = -3.4028234663852886e38;

#if SUBGROUPS
/** Combines every invocation's value (max or sum); all ${WG} must call it, in uniform control flow. */
fn combine(value: f32, lane: u32, isMax: bool) -> f32 {
  let mine = select(subgroupAdd(value), subgroupMax(value), isMax);
  partial[lane] = select(select(0.0, LOWEST, isMax), mine, subgroupElect());
  workgroupBarrier();
  var result = partial[0];
  for (var i = 1u; i < ${WG}u; i++) { result = select(result + partial[i], max(result, partial[i]), isMax); }
  // Nobody overwrites a slot for the next reduction before everyone has read them all.
  workgroupBarrier();
  return result;
}
#else
/** Combines every invocation's value (max or sum); all ${WG} must call it, in uniform control flow. */
fn combine(value: f32, lane: u32, isMax: bool) -> f32 {
  partial[lane] = value;
  workgroupBarrier();
  for (var stride = ${WG}u / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      let other = partial[lane + stride];
      partial[lane] = select(partial[lane] + other, max(partial[lane], other), isMax);
    }
    workgroupBarrier();
  }
  let result = partial[0];
  // Nobody overwrites partial[0] for the next reduction before everyone has read it.
  workgroupBarrier();
  return result;
}
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let row = wg.x + wg.y * p.groupsX;
  if (row >= p.rows) { return; }
  let base = row * p.length;
  let end = base + p.length;
#if BACKWARD
  var part = 0.0;
  for (var i = base + lane; i < end; i += ${WG}u) {
#if LOG
    part += gradOut[i];
#else
    part += gradOut[i] * y[i];
#endif
  }
  let total = combine(part, lane, false);
  for (var i = base + lane; i < end; i += ${WG}u) {
#if LOG
    gradIn[i] = p.scale * (gradOut[i] - exp(y[i]) * total);
#else
    gradIn[i] = p.scale * y[i] * (gradOut[i] - total);
#endif
  }
#else
  var top = LOWEST;
  for (var i = base + lane; i < end; i += ${WG}u) { top = max(top, p.scale * x[i]); }
  let peak = combine(top, lane, true);
  var part = 0.0;
  for (var i = base + lane; i < end; i += ${WG}u) {
    let e = exp(p.scale * x[i] - peak);
#if !LOG
    y[i] = e;
#endif
    part += e;
  }
  let total = combine(part, lane, false);
#if LOG
  let logTotal = log(total);
  for (var i = base + lane; i < end; i += ${WG}u) { y[i] = p.scale * x[i] - peak - logTotal; }
#else
  let inverse = 1.0 / total;
  for (var i = base + lane; i < end; i += ${WG}u) { y[i] = y[i] * inverse; }
#endif
#endif
}
#else
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x + gid.y * p.groupsX * ${WG}u;
  if (row >= p.rows) { return; }
  let base = row * p.length;
  let end = base + p.length;
#if BACKWARD
  var total = 0.0;
  for (var b = base; b < end; b += ${BLOCK}u) {
    var part = 0.0;
#if LOG
    for (var i = b; i < min(b + ${BLOCK}u, end); i++) { part += gradOut[i]; }
#else
    for (var i = b; i < min(b + ${BLOCK}u, end); i++) { part += gradOut[i] * y[i]; }
#endif
    total += part;
  }
  for (var i = base; i < end; i++) {
#if LOG
    gradIn[i] = p.scale * (gradOut[i] - exp(y[i]) * total);
#else
    gradIn[i] = p.scale * y[i] * (gradOut[i] - total);
#endif
  }
#else
  var peak = p.scale * x[base];
  for (var i = base + 1u; i < end; i++) { peak = max(peak, p.scale * x[i]); }
  var total = 0.0;
  for (var b = base; b < end; b += ${BLOCK}u) {
    var part = 0.0;
    for (var i = b; i < min(b + ${BLOCK}u, end); i++) {
#if LOG
      part += exp(p.scale * x[i] - peak);
#else
      // Keep the exponentials in y so the normalising pass needs no second exp.
      let e = exp(p.scale * x[i] - peak);
      y[i] = e;
      part += e;
#endif
    }
    total += part;
  }
#if LOG
  let logTotal = log(total);
  for (var i = base; i < end; i++) { y[i] = p.scale * x[i] - peak - logTotal; }
#else
  let inverse = 1.0 / total;
  for (var i = base; i < end; i++) { y[i] = y[i] * inverse; }
#endif
#endif
}
#endif
