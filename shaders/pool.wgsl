// 2×2 windows over NCHW planes: average pool, max pool, nearest ×2 upsampling and their gradients,
// each as a gather (one invocation per output element, no atomics). Five movements cover all six and
// the second-order gradients:
//   WINDOW_SUM   out[oh, ow] = scale · Σ src[2oh + dy, 2ow + dx]       avg pool (¼), upsample backward (1)
//   WINDOW_MAX   out[oh, ow] = max src[2oh + dy, 2ow + dx]             max pool
//   SPREAD       out[h, w] = scale · src[h/2, w/2], 0 past src's edge  upsample (1), avg pool backward (¼)
//   MAX_BACKWARD gradIn[h, w] = gradOut[h/2, w/2] where x[h, w] is its window's first maximum (in
//                row-major order, as PyTorch picks among ties), else 0; one invocation per window
//                (a quarter of the invocations of a gather, each reading x's window once).
//   MAX_GATHER   out[oh, ow] = v[2oh + dy, 2ow + dx] at its x window's first maximum: MAX_BACKWARD's
//                adjoint in gradOut (the routing depends on x only through which element wins).
// Odd H or W: pooling drops the last row/column (floor, like PyTorch), whose gradient is 0.
// Layout: contiguous [planes = N·C, outH, outW] out, [planes, inH, inW] src (for MAX_BACKWARD the
// "out" sizes are x's and the "in" sizes gradOut's; for MAX_GATHER the "in" sizes are x's and v's).
// Dispatch: ${WG} per workgroup, folded into y past maxComputeWorkgroupsPerDimension.

struct Params { size: u32, groupsX: u32, outH: u32, outW: u32, inH: u32, inW: u32, scale: f32 }

#if MAX_BACKWARD
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gradOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradIn: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#elif MAX_GATHER
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#else
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#endif

/** Which of a 2×2 window's values (row-major a, b, c, d) is its first maximum: later ones win only when strictly greater. */
fn firstMaximum(a: f32, b: f32, c: f32, d: f32) -> u32 {
  let firstTop = select(0u, 1u, b > a);
  let firstBottom = select(2u, 3u, d > c);
  return select(firstTop, firstBottom, max(c, d) > max(a, b));
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.groupsX * ${WG}u;
  if (i >= p.size) { return; }
#if MAX_BACKWARD
  let w = i % p.inW;
  let h = (i / p.inW) % p.inH;
  let plane = i / (p.inW * p.inH);
#else
  let w = i % p.outW;
  let h = (i / p.outW) % p.outH;
  let plane = i / (p.outW * p.outH);
#endif
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
  // One invocation per window (i runs over gradOut): it writes the window's four gradIn values, and
  // the dropped last row / column of an odd x next to it, so every gradIn element is written once.
  let top = (plane * p.outH + 2u * h) * p.outW + 2u * w;
  let first = firstMaximum(x[top], x[top + 1u], x[top + p.outW], x[top + p.outW + 1u]);
  let g = gradOut[i];
  gradIn[top] = select(0.0, g, first == 0u);
  gradIn[top + 1u] = select(0.0, g, first == 1u);
  gradIn[top + p.outW] = select(0.0, g, first == 2u);
  gradIn[top + p.outW + 1u] = select(0.0, g, first == 3u);
  let oddColumn = w + 1u == p.inW && 2u * p.inW < p.outW;
  let oddRow = h + 1u == p.inH && 2u * p.inH < p.outH;
  if (oddColumn) {
    gradIn[top + 2u] = 0.0;
    gradIn[top + p.outW + 2u] = 0.0;
  }
  if (oddRow) {
    gradIn[top + 2u * p.outW] = 0.0;
    gradIn[top + 2u * p.outW + 1u] = 0.0;
    if (oddColumn) { gradIn[top + 2u * p.outW + 2u] = 0.0; }
  }
#elif MAX_GATHER
  let top = (plane * p.inH + 2u * h) * p.inW + 2u * w;
  let first = firstMaximum(x[top], x[top + 1u], x[top + p.inW], x[top + p.inW + 1u]);
  dst[i] = v[top + (first / 2u) * p.inW + first % 2u];
#endif
}
