// Elementwise unary functions and their derivatives.
// Layout: any contiguous tensor, treated as a flat array of `size` f32.
// Dispatch: each invocation handles a run of ${RUN} consecutive elements (long runs on CPU drivers,
// 1 on GPUs; see engine/ops/tuning.ts), ${WG} per workgroup; the grid folds into y when x would
// exceed maxComputeWorkgroupsPerDimension (linear id = x + y · groupsX · WG).
// Variants: exactly one of RELU, SILU, SIGN, CLAMP, AFFINE, SQUARE, EXP, LOG, ABS, SQRT is set.
// `main` writes f(x); BACKWARD writes gradOut · f'(x); SECOND writes gradOut · gradOut2 · f''(x), the
// derivative of ⟨gradOut2, gradOut · f'(x)⟩ in x (higher-order autograd; only for the functions
// with a non-zero f'': SILU, SQUARE, EXP, LOG, SQRT). `a`, `b` are the clamp bounds or the affine a·x+b.

struct Params { size: u32, groupsX: u32, a: f32, b: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
#if SECOND
@group(0) @binding(1) var<storage, read> gradOut: array<f32>;
@group(0) @binding(2) var<storage, read> gradOut2: array<f32>;
@group(0) @binding(3) var<storage, read_write> gradIn: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#elif BACKWARD
@group(0) @binding(1) var<storage, read> gradOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradIn: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#else
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#endif

fn f(v: f32) -> f32 {
#if RELU
  return max(v, 0.0);
#elif SILU
  return v / (1.0 + exp(-v));
#elif SIGN
  return sign(v);
#elif CLAMP
  return clamp(v, p.a, p.b);
#elif AFFINE
  return p.a * v + p.b;
#elif SQUARE
  return v * v;
#elif EXP
  return exp(v);
#elif LOG
  return log(v);
#elif ABS
  return abs(v);
#elif SQRT
  return sqrt(v);
#endif
}

fn df(v: f32) -> f32 {
#if RELU
  return select(0.0, 1.0, v > 0.0);
#elif SILU
  let s = 1.0 / (1.0 + exp(-v));
  return s * (1.0 + v * (1.0 - s));
#elif SIGN
  return 0.0;
#elif CLAMP
  return select(0.0, 1.0, v >= p.a && v <= p.b);
#elif AFFINE
  return p.a;
#elif SQUARE
  return 2.0 * v;
#elif EXP
  return exp(v);
#elif LOG
  return 1.0 / v;
#elif ABS
  return sign(v);
#elif SQRT
  return 0.5 / sqrt(v);
#endif
}

#if SECOND
fn d2f(v: f32) -> f32 {
#if SILU
  // (σ(1 + v(1 − σ)))′ = σ(1 − σ)(2 + v(1 − 2σ))
  let s = 1.0 / (1.0 + exp(-v));
  return s * (1.0 - s) * (2.0 + v * (1.0 - 2.0 * s));
#elif SQUARE
  return 2.0;
#elif EXP
  return exp(v);
#elif LOG
  return -1.0 / (v * v);
#elif SQRT
  return -0.25 / (v * sqrt(v));
#endif
}
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = (gid.x + gid.y * p.groupsX * ${WG}u) * ${RUN}u;
  let last = min(first + ${RUN}u, p.size);
  for (var i = first; i < last; i++) {
#if SECOND
    gradIn[i] = (gradOut[i] * gradOut2[i]) * d2f(x[i]);
#elif BACKWARD
    gradIn[i] = gradOut[i] * df(x[i]);
#else
    y[i] = f(x[i]);
#endif
  }
}
