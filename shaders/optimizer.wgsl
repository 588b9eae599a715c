// In-place optimiser update of one parameter tensor from its gradient.
// ADAM (Kingma & Ba, with decoupled weight decay as in AdamW when DECOUPLED, else L2 added to the
// gradient): m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr·(m/c1) / (sqrt(v/c2) + eps),
// with bias corrections c1 = 1 − β1^t, c2 = 1 − β2^t computed on the host.
// SGD: momentum buffer m ← μ·m + g (+ wd·p), p ← p − lr·m.
// Layout: flat arrays of `size` f32. One invocation per element, ${WG} per workgroup, folded into y.

struct Params { size: u32, groupsX: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, c1: f32, c2: f32, weightDecay: f32 }

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
#if ADAM
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#else
@group(0) @binding(3) var<uniform> p: Params;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * ${WG}u;
  if (i >= p.size) { return; }
  var w = param[i];
#if ADAM
#if DECOUPLED
  let g = grad[i];
  w = w * (1.0 - p.lr * p.weightDecay);
#else
  let g = grad[i] + p.weightDecay * w;
#endif
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = w - p.lr * (mi / p.c1) / (sqrt(vi / p.c2) + p.eps);
#else
  let mi = p.beta1 * m[i] + grad[i] + p.weightDecay * w;
  m[i] = mi;
  param[i] = w - p.lr * mi;
#endif
}
