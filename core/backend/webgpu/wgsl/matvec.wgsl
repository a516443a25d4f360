// One-token matrix-vector products, y[r] = sum_c W[r][c] * x[c], over whole 32-value units of the weights
// (`wN_dot32`, matvec_<type>.wgsl): thread i takes units i, i + WG, ... of the row, loads those 32 values of
// x once (normalized under NORM) and multiplies them with each of the workgroup's $ROWS rows, so x is read
// once per $ROWS rows (matmul.wgsl reads it again for every row), and each unit's weights come as whole
// aligned words instead of 8 values assembled per read. Same parameters and flags as matmul.wgsl with one
// token per workgroup (workgroup z is the token; with last_only, the step's last, written as y row 0).
// DOT8: each thread quantizes its unit of x to 8-bit integers with one scale (as the CPU's SIMD kernels and
// llama.cpp do) and multiplies 4 values per dot4I8Packed (`wN_dot32i8`), instead of converting every weight
// to f32: on the one-token products the conversions, not the bytes, bound the f32 kernel.
// Grid: (grid_x, ceil(ceil(rows / $ROWS) / grid_x), tokens).
const WG: u32 = $WGu;
const ROWS: u32 = $ROWSu;
//#if GATED
const NV: u32 = 2u;
//#else
const NV: u32 = 1u;
//#endif
// Values each thread reduces: the rows' products (gate's, then up's), then the sum of squares.
//#if NORM
const K: u32 = NV * ROWS + 1u;
//#else
const K: u32 = NV * ROWS;
//#endif

fn dot_w(row: u32, u: u32, xv: array<vec4<f32>, 8>, xsum: f32) -> f32 {
//#if MULTI
  if (row >= P.rows0 + P.rows1) { return w2_dot32((row - P.rows0 - P.rows1) * P.row_bytes2, u, xv, xsum); }
  if (row >= P.rows0) { return w1_dot32((row - P.rows0) * P.row_bytes1, u, xv, xsum); }
//#endif
  return w0_dot32(row * P.row_bytes0, u, xv, xsum);
}

//#if DOT8
fn dot_w8(row: u32, u: u32, xq: array<u32, 8>, xqsum: i32) -> f32 {
//#if MULTI
  if (row >= P.rows0 + P.rows1) { return w2_dot32i8((row - P.rows0 - P.rows1) * P.row_bytes2, u, xq, xqsum); }
  if (row >= P.rows0) { return w1_dot32i8((row - P.rows0) * P.row_bytes1, u, xq, xqsum); }
//#endif
  return w0_dot32i8(row * P.row_bytes0, u, xq, xqsum);
}
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
//#if SUBGROUPS
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32,
//#endif
        ) {
  let row0 = (wid.y * P.grid_x + wid.x) * ROWS;
  if (row0 >= P.rows) { return; }
  var xt = wid.z;
  var yt = wid.z;
  if (P.last_only == 1u) {
    if (wid.z > 0u) { return; }
    xt = step_n_tokens() - 1u;
    yt = 0u;
  } else if (xt >= step_n_tokens()) {
    return;
  }

  var part: array<f32, K>;
  let units = P.cols / 32u;
  let xbase = xt * (P.x_stride / 4u);
  for (var u = tid; u < units; u += WG) {
    var xv: array<vec4<f32>, 8>;
    var xs = vec4<f32>(0.0);
    for (var i = 0u; i < 8u; i++) {
      var v = x[xbase + 8u * u + i];
//#if NORM
      part[NV * ROWS] += dot(v, v);
      v *= gnorm[8u * u + i];
//#endif
      xv[i] = v;
      xs += v;
    }
//#if DOT8
    var amax = vec4<f32>(0.0);
    for (var i = 0u; i < 8u; i++) { amax = max(amax, abs(xv[i])); }
    let m = max(max(amax.x, amax.y), max(amax.z, amax.w));
    let inv = select(0.0, 127.0 / m, m > 0.0);
    var xq: array<u32, 8>;
    var xqsum = 0;
    for (var i = 0u; i < 8u; i++) {
      xq[i] = pack4xI8(vec4<i32>(round(xv[i] * inv)));
      xqsum += dot4I8Packed(xq[i], 0x01010101u);
    }
    let dx = m / 127.0;
    for (var r = 0u; r < ROWS; r++) {
      let row = min(row0 + r, P.rows - 1u);
      part[r] += dx * dot_w8(row, u, xq, xqsum);
//#if GATED
      part[ROWS + r] += dx * w1_dot32i8(row * P.row_bytes1, u, xq, xqsum);
//#endif
    }
//#else
    // The sum of the unit's x, for the offsets and minimums of the block types (d * (q - 8), d*sc*q - m).
    let xsum = xs.x + xs.y + xs.z + xs.w;
    for (var r = 0u; r < ROWS; r++) {
      // Rows past the end (the last workgroup's) read the last row and are not written.
      let row = min(row0 + r, P.rows - 1u);
      part[r] += dot_w(row, u, xv, xsum);
//#if GATED
      part[ROWS + r] += w1_dot32(row * P.row_bytes1, u, xv, xsum);
//#endif
    }
//#endif
  }

//#if SUBGROUPS
  n_subgroups = (WG + sg_size - 1u) / sg_size;
  for (var k = 0u; k < K; k++) {
    let s = subgroupAdd(part[k]);
    if (lane == 0u) { red[k * MAXSG + tid / sg_size] = s; }
  }
//#else
  for (var k = 0u; k < K; k++) { red[k * WG + tid] = part[k]; }
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (tid < s) {
      for (var k = 0u; k < K; k++) { red[k * WG + tid] += red[k * WG + tid + s]; }
    }
  }
//#endif
  workgroupBarrier();
  if (tid < ROWS && row0 + tid < P.rows) {
    var v = reduced(tid);
//#if NORM
    let scale = inverseSqrt(reduced(NV * ROWS) * P.inv_cols + P.eps);
    v *= scale;
//#endif
//#if GATED
    var up = reduced(ROWS + tid);
//#if NORM
    up *= scale;
//#endif
    v = gate(v) * up;
//#endif
//#if SOFTCAP
    v = soft_cap(v, P.soft_cap);
//#endif
    let yi = yt * P.y_stride + P.y_offset + row0 + tid;
//#if RESIDUAL
    y[yi] += v;
//#else
    y[yi] = v;
//#endif
  }
}
