// One diffusion update, elementwise, covering forward noising, the ancestral DDPM step and DDIM:
//   x̂₀  = clip((x − s1·ε) · s0inv, −1, 1)            (clip only in the CLIP variant)
//   out = A·x̂₀ + B·x + C·ε + G·g + S·z
// DDPM: A = coefX0, B = coefXt, G = guidance scale·Σ_t, S = sqrt(Σ_t). DDIM: A = sqrt(ᾱ_prev),
// C = direction coefficient, S = σ. Forward noising q(x_t | x₀): B = sqrt(ᾱ), C = sqrt(1 − ᾱ).
// Coefficients are computed in float64 on the CPU. g (guidance) and z (noise) are always bound;
// callers pass x with a zero coefficient when they have none.
// BACKWARD writes ∂out/∂x·gOut and ∂out/∂ε·gOut (∂out/∂g = G is a plain scale on the host side).
// Dispatch: one invocation per element, ${WG} per workgroup, folded into y past the x limit.

struct Params { size: u32, groupsX: u32, s0inv: f32, s1: f32, A: f32, B: f32, C: f32, G: f32, S: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> eps: array<f32>;
#if BACKWARD
@group(0) @binding(2) var<storage, read> gOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> gradX: array<f32>;
@group(0) @binding(4) var<storage, read_write> gradEps: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#else
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> z: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * ${WG}u;
  if (i >= p.size) { return; }
  let raw = (x[i] - p.s1 * eps[i]) * p.s0inv;
#if CLIP
  let x0 = clamp(raw, -1.0, 1.0);
  let inside = select(0.0, 1.0, raw >= -1.0 && raw <= 1.0);
#else
  let x0 = raw;
  let inside = 1.0;
#endif
#if BACKWARD
  let d = gOut[i];
  gradX[i] = d * (p.A * inside * p.s0inv + p.B);
  gradEps[i] = d * (p.C - p.A * inside * p.s1 * p.s0inv);
#else
  out[i] = p.A * x0 + p.B * x[i] + p.C * eps[i] + p.G * g[i] + p.S * z[i];
#endif
}
