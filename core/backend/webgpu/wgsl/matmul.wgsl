// y[t][r] = sum_c W[r][c] * x[t][c], with weights in their GGUF block layout (decoded 8 values at a time by
// `wN_group8`). One workgroup computes $ROWS output rows for up to $TOK tokens, so each weight block is read
// once per $TOK tokens, a group's norm weights are loaded once for the $ROWS rows (and its x comes from the
// cache after the first), and each thread has $ROWS rows' weight reads in flight; its threads stride over the
// groups of 8 columns and reduce in workgroup memory.
// Variants (composer defines):
//   NORM      x is RMS-normalized on the fly: y = rms(x) * W (x * g); the sum of squares is reduced
//             alongside the dot products, so the fused norm costs no extra pass.
//   RESIDUAL  y[t][r] += result (residual stream update)
//   GATED     two weights with the same rows (w0 = gate, w1 = up): y = silu(gate x) * (up x)
//   GELU      with GATED: gelu_tanh instead of silu (Gemma)
//   SOFTCAP   y = soft_cap(result, soft_cap) (Gemma 2's final logits)
//   MULTI     rows of w0, then w1, then w2 concatenated (Q, K, V as one product)
//   SUBGROUPS the reduction adds within subgroups first (subgroupAdd), then one partial per subgroup
// Grid: (grid_x, ceil(ceil(rows / $ROWS) / grid_x), token tiles).
const WG: u32 = $WGu;
const TOK: u32 = $TOKu;
const ROWS: u32 = $ROWSu;
const NACC: u32 = ROWS * TOK;  // outputs of one workgroup: slot r * TOK + t
//#if GATED
const NV: u32 = 2u;
//#else
const NV: u32 = 1u;
//#endif
// Values each thread reduces: the products (gate's, then up's), then the sums of squares per token.
//#if NORM
const K: u32 = NV * NACC + TOK;
//#else
const K: u32 = NV * NACC;
//#endif

fn load_w(row: u32, g: u32) -> Group8 {
//#if MULTI
  if (row >= P.rows0 + P.rows1) { return w2_group8((row - P.rows0 - P.rows1) * P.row_bytes2, g); }
  if (row >= P.rows0) { return w1_group8((row - P.rows0) * P.row_bytes1, g); }
//#endif
  return w0_group8(row * P.row_bytes0, g);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
//#if SUBGROUPS
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32,
//#endif
        ) {
  let row0 = (wid.y * P.grid_x + wid.x) * ROWS;
  if (row0 >= P.rows) { return; }
  let n = step_n_tokens();
  var xt0 = wid.z * TOK;  // first token read from x
  var yt0 = xt0;          // and written to y
  var count = 0u;
  if (P.last_only == 1u) {
    if (wid.z > 0u) { return; }
    xt0 = n - 1u;
    yt0 = 0u;
    count = 1u;
  } else {
    if (xt0 >= n) { return; }
    count = min(TOK, n - xt0);
  }

  var part: array<f32, K>;
  // Float weights may have cols % 8 == 4 (stories260K's ffn_dim 172): the last group then holds 4 values and
  // its upper half is zeroed (weights too, so whatever lies past the row cannot turn into NaN).
  let groups = (P.cols + 7u) / 8u;
  let half_last = (P.cols & 7u) != 0u;
  let xs = P.x_stride / 4u;
  for (var g = tid; g < groups; g += WG) {
    let half = half_last && g == groups - 1u;
//#if NORM
    let ga = gnorm[2u * g];
    var gb = vec4<f32>(0.0);
    if (!half) { gb = gnorm[2u * g + 1u]; }
//#endif
    for (var r = 0u; r < ROWS; r++) {
      // Rows past the end (the last workgroup's) read the last row and are not written.
      let row = min(row0 + r, P.rows - 1u);
      var w = load_w(row, g);
      if (half) { w.b = vec4<f32>(0.0); }
//#if GATED
      var u = w1_group8(row * P.row_bytes1, g);
      if (half) { u.b = vec4<f32>(0.0); }
//#endif
      for (var t = 0u; t < TOK; t++) {
        if (t < count) {
          let xi = (xt0 + t) * xs + 2u * g;
          var xa = x[xi];
          var xb = vec4<f32>(0.0);
          if (!half) { xb = x[xi + 1u]; }
//#if NORM
          if (r == 0u) { part[NV * NACC + t] += dot(xa, xa) + dot(xb, xb); }
          xa *= ga;
          xb *= gb;
//#endif
          part[r * TOK + t] += dot(w.a, xa) + dot(w.b, xb);
//#if GATED
          part[NACC + r * TOK + t] += dot(u.a, xa) + dot(u.b, xb);
//#endif
        }
      }
    }
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
      for (var k = 0u; k < K; k++) {
        red[k * WG + tid] += red[k * WG + tid + s];
      }
    }
  }
//#endif
  workgroupBarrier();
  let r = tid / TOK;
  let t = tid % TOK;
  if (tid < NACC && t < count && row0 + r < P.rows) {
    var up = 0.0;
//#if GATED
    up = reduced(NACC + tid);
//#endif
    var scale = 1.0;
//#if NORM
    scale = inverseSqrt(reduced(NV * NACC + t) * P.inv_cols + P.eps);
//#endif
    store_output(reduced(tid), up, scale, (yt0 + t) * P.y_stride + P.y_offset + row0 + r);
  }
}
