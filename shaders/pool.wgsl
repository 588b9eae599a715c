// 2×2 windows over NCHW planes: average pool, max pool, nearest ×2 upsampling and their gradients,
// each as a gather (one invocation per output element, no atomics). Three movements cover all six:
//   WINDOW_SUM   out[oh, ow] = scale · Σ src[2oh + dy, 2ow + dx]       avg pool (¼), upsample backward (1)
//   WINDOW_MAX   out[oh, ow] = max src[2oh + dy, 2ow + dx]             max pool
//   SPREAD       out[h, w] = scale · src[h/2, w/2], 0 past src's edge  upsample (1), avg pool backward (¼)
//   MAX_BACKWARD gradIn[h, w] = gradOut[h/2, w/2] where x[h, w] is its window's first maximum (in
//                row-major order, as PyTorch picks among ties), else 0.
// Odd H or W: pooling drops the last row/column (floor, like PyTorch), whose gradient is 0.
// Layout: contiguous [planes = N·C, outH, outW] out, [planes, inH, inW] src (for MAX_BACKWARD the
// "out" sizes are x's and the "in" sizes gradOut's). Dispatch: ${WG} per workgroup, folded into y
// past maxComputeWorkgroupsPerDimension.

struct Params { size: u32, groupsX: u32, outH: u32, outW: u32, inH: u32, inW: u32, scale: f32 }

#if MAX_BACKWARD
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gradOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradIn: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#else
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * ${WG}u;
  if (i >= p.size) { return; }
  let w = i % p.outW;
  let h = (i / p.outW) % p.outH;
  let plane = i / (p.outW * p.outH);
#if WINDOW_SUM
  let top = (plane * p.inH + 2u * h) * p.inW + 2u * w;
  dst[i] = p.scale * ((src[top] + src[top + 1u]) + (src[top + p.inW] + src[top + p.inW + 1u]));
#elif WINDOW_MAX
  let top = (plane * p.inH + 2u * h) * p.inW + 2u * w;
  dst[i] = max(max(src[top], src[top + 1u]), max(src[top + p.inW], src[top + p.inW + 1u]));
#elif SPREAD
  let sh = h / 2u;
  let sw = w / 2u;
  if (sh < p.inH && sw < p.inW) {
    dst[i] = p.scale * src[(plane * p.inH + sh) * p.inW + sw];
  } else {
    dst[i] = 0.0;
  }
#elif MAX_BACKWARD
  let ph = h / 2u;
  let pw = w / 2u;
  if (ph >= p.inH || pw >= p.inW) {
    gradIn[i] = 0.0;
    return;
  }
  let top = (plane * p.outH + 2u * ph) * p.outW + 2u * pw;
  var window = array<f32, 4>(x[top], x[top + 1u], x[top + p.outW], x[top + p.outW + 1u]);
  var first = 0u;
  for (var k = 1u; k < 4u; k++) {
    if (window[k] > window[first]) { first = k; }
  }
  let mine = (h % 2u) * 2u + (w % 2u);
  gradIn[i] = select(0.0, gradOut[(plane * p.inH + ph) * p.inW + pw], mine == first);
#endif
}
