// Sinusoidal timestep embedding: out[r, j] = sin or cos of timesteps[r] · 2π · turns[k(j)].
// Column j uses frequency k = (j / freqDiv) % half and cosine when ((j / phaseDiv) % 2) xor flip:
//   interleaved (sin, cos) pairs: freqDiv 2, phaseDiv 1;  [sin…, cos…]: freqDiv 1, phaseDiv half;
//   [cos…, sin…]: the same with flip 1. Columns past 2·half (odd dim) are 0.
// Precision: t·freq reaches ~1000 rad, where one f32 rounding of the argument is worth ~6e-5, so
// the argument is carried in turns (cycles) and reduced exactly. The host splits each frequency in
// turns, computed in float64, into hi + mid + lo, hi and mid with 12 significant bits; writing
// t = whole + frac, whole·hi and whole·mid are exact for |whole| < 4096, so their fractional parts
// are exact and only small terms round. cos is sin a quarter turn later. The reduced angle lies in
// [−π, π], the range where drivers' sin is accurate (Vulkan itself only promises 2^-11 there).
// Layout: timesteps [rows], freqParts [half · 3] (hi, mid, lo), out [rows, dim] contiguous.
// Dispatch: one invocation per output element, ${WG} per workgroup, folded into y past the x limit.

struct Params { size: u32, groupsX: u32, dim: u32, half: u32, freqDiv: u32, phaseDiv: u32, flip: u32 }

@group(0) @binding(0) var<storage, read> timesteps: array<f32>;
@group(0) @binding(1) var<storage, read> freqParts: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const TWO_PI = 6.283185307179586;

/** v − round(v): exact for any f32, in [−½, ½]. */
fn centeredFraction(v: f32) -> f32 {
  return v - round(v);
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * ${WG}u;
  if (i >= p.size) { return; }
  let col = i % p.dim;
  if (col >= 2u * p.half) {
    out[i] = 0.0;
    return;
  }
  let k = (col / p.freqDiv) % p.half;
  let quarterTurns = ((col / p.phaseDiv) % 2u) ^ p.flip;
  let t = timesteps[i / p.dim];
  let whole = floor(t);
  let frac = t - whole;
  let hi = freqParts[3u * k];
  let mid = freqParts[3u * k + 1u];
  let lo = freqParts[3u * k + 2u];
  let exact = centeredFraction(centeredFraction(whole * hi) + centeredFraction(whole * mid));
  let small = whole * lo + frac * (hi + mid + lo) + 0.25 * f32(quarterTurns);
  out[i] = sin(TWO_PI * centeredFraction(exact + small));
}
