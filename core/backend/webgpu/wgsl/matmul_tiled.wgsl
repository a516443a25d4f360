// Prefill matrix product, tiled: a workgroup of 256 threads computes 64 output rows x 64 tokens, walking
// the columns 16 at a time. Each step decodes a 64 x 16 weight tile (2 groups of 8 per row, in place from
// the GGUF blocks) and a 16 x 64 tile of x into workgroup memory; each thread then accumulates its 4 rows x
// 4 tokens from there, so a weight is decoded once per 64 tokens and every shared read feeds 4 products.
// Same parameters and variants as matmul.wgsl (NORM, RESIDUAL, GATED, GELU, MULTI); last_only and SOFTCAP
// (final logits, always last_only) are not supported.
// Grid: (grid_x, ceil(ceil(rows / 64) / grid_x), ceil(tokens / 64)).
const TM: u32 = 64u;  // rows per workgroup
const TN: u32 = 64u;  // tokens per workgroup
const KS: u32 = 16u;  // columns per step (2 groups of 8)

// [k][row / 4] and [k][token / 4]: a thread reads its 4 rows (4 tokens) as one vec4.
var<workgroup> ws: array<vec4<f32>, KS * TM / 4u>;
//#if GATED
var<workgroup> us: array<vec4<f32>, KS * TM / 4u>;
//#endif
var<workgroup> xs: array<vec4<f32>, KS * TN / 4u>;
//#if NORM
var<workgroup> ssq: array<f32, 256>;
//#endif

fn load_w(row: u32, g: u32) -> Group8 {
//#if MULTI
  if (row >= P.rows0 + P.rows1) { return w2_group8((row - P.rows0 - P.rows1) * P.row_bytes2, g); }
  if (row >= P.rows0) { return w1_group8((row - P.rows0) * P.row_bytes1, g); }
//#endif
  return w0_group8(row * P.row_bytes0, g);
}

// Writes 8 decoded values of one row as column entries of a [k][row] tile.
fn put_w(row_in_tile: u32, k0: u32, v: Group8, gated: bool) {
  var vals = array<f32, 8>(v.a.x, v.a.y, v.a.z, v.a.w, v.b.x, v.b.y, v.b.z, v.b.w);
  let q = row_in_tile / 4u;
  let c = row_in_tile % 4u;
  for (var i = 0u; i < 8u; i++) {
    let at = (k0 + i) * (TM / 4u) + q;
//#if GATED
    if (gated) { us[at][c] = vals[i]; continue; }
//#endif
    ws[at][c] = vals[i];
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let row0 = (wid.y * P.grid_x + wid.x) * TM;
  if (row0 >= P.rows) { return; }
  let n = step_n_tokens();
  let tok0 = wid.z * TN;
  if (tok0 >= n) { return; }
  let count = min(TN, n - tok0);
  let groups = (P.cols + 7u) / 8u;
  let half_last = (P.cols & 7u) != 0u;
  let xs4 = P.x_stride / 4u;

  // Loading roles: threads 0..127 decode one weight group of the tile (row tid / 2, group tid % 2); with
  // GATED threads 128..255 do the same for the up matrix. Every thread loads one vec4 of x: token tid / 4,
  // columns 4 * (tid % 4).
  let lrow = (tid & 127u) / 2u;
  let lg = tid & 1u;
  let xt = tid / 4u;
  let xq = tid % 4u;
  // Compute roles: rows 4 * (tid % 16) .. +3, tokens 4 * (tid / 16) .. +3.
  let rq = tid % 16u;
  let tq = tid / 16u;

  var acc: array<vec4<f32>, 4>;   // acc[j][i]: token 4 tq + j, row 4 rq + i
//#if GATED
  var accu: array<vec4<f32>, 4>;
//#endif
//#if NORM
  var ss = 0.0;
//#endif

  for (var g0 = 0u; g0 < groups; g0 += 2u) {
    // Decode the weight tile.
    let g = g0 + lg;
    let row = row0 + lrow;
    var v = Group8(vec4<f32>(0.0), vec4<f32>(0.0));
    let gated_half = tid >= 128u;
//#if GATED
    if (g < groups && row < P.rows) {
      if (gated_half) { v = w1_group8(row * P.row_bytes1, g); } else { v = w0_group8(row * P.row_bytes0, g); }
      if (half_last && g == groups - 1u) { v.b = vec4<f32>(0.0); }
    }
    put_w(lrow, 8u * lg, v, gated_half);
//#else
    if (!gated_half) {
      if (g < groups && row < P.rows) {
        v = load_w(row, g);
        if (half_last && g == groups - 1u) { v.b = vec4<f32>(0.0); }
      }
      put_w(lrow, 8u * lg, v, false);
    }
//#endif
    // Load the x tile (normalization weights applied; sums of squares kept for the scale).
    var xv = vec4<f32>(0.0);
    let col4 = 2u * g0 + xq;          // vec4 index of the column
    if (xt < count && 4u * col4 < P.cols) {
      xv = x[(tok0 + xt) * xs4 + col4];
//#if NORM
      ss += dot(xv, xv);
      xv *= gnorm[col4];
//#endif
    }
    let xc = xt % 4u;
    xs[(4u * xq) * (TN / 4u) + xt / 4u][xc] = xv.x;
    xs[(4u * xq + 1u) * (TN / 4u) + xt / 4u][xc] = xv.y;
    xs[(4u * xq + 2u) * (TN / 4u) + xt / 4u][xc] = xv.z;
    xs[(4u * xq + 3u) * (TN / 4u) + xt / 4u][xc] = xv.w;
    workgroupBarrier();
    for (var k = 0u; k < KS; k++) {
      let wv = ws[k * (TM / 4u) + rq];
      let xk = xs[k * (TN / 4u) + tq];
      acc[0] += wv * xk.x;
      acc[1] += wv * xk.y;
      acc[2] += wv * xk.z;
      acc[3] += wv * xk.w;
//#if GATED
      let uv = us[k * (TM / 4u) + rq];
      accu[0] += uv * xk.x;
      accu[1] += uv * xk.y;
      accu[2] += uv * xk.z;
      accu[3] += uv * xk.w;
//#endif
    }
    workgroupBarrier();
  }

//#if NORM
  ssq[tid] = ss;
  workgroupBarrier();
//#endif
  for (var j = 0u; j < 4u; j++) {
    let t = 4u * tq + j;
    if (t >= count) { break; }
    var v = acc[j];
//#if NORM
    let tt = 4u * t;
    let scale = inverseSqrt((ssq[tt] + ssq[tt + 1u] + ssq[tt + 2u] + ssq[tt + 3u]) * P.inv_cols + P.eps);
    v *= scale;
//#endif
//#if GATED
    var up = accu[j];
//#if NORM
    up *= scale;
//#endif
    v = vec4<f32>(gate(v.x), gate(v.y), gate(v.z), gate(v.w)) * up;
//#endif
    for (var i = 0u; i < 4u; i++) {
      let row = row0 + 4u * rq + i;
      if (row < P.rows) {
        let yi = (tok0 + t) * P.y_stride + P.y_offset + row;
//#if RESIDUAL
        y[yi] += v[i];
//#else
        y[yi] = v[i];
//#endif
      }
    }
  }
}
