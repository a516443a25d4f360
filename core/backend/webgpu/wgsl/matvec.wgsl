// One-token matrix-vector products, y[r] = sum_c W[r][c] * x[c], over whole 32-value units of the weights
// (`wN_unit`, matvec_<type>.wgsl): thread i takes units i, i + WG, ... of the row, loads those 32 values of
// x once (normalized under NORM) and multiplies them with each of the workgroup's $ROWS rows, so x is read
// once per $ROWS rows (matmul.wgsl reads it again for every row), and each unit's weights come as whole
// aligned words instead of 8 values assembled per read. Same parameters and flags as matmul.wgsl with one
// token per workgroup (workgroup z is the token; with last_only, the step's last, written as y row 0).
// DOT8: each thread rounds its unit of x to 8-bit integers on one scale (as the CPU's SIMD kernels and
// llama.cpp do) and multiplies 4 values per dot4I8Packed, instead of converting every weight to f32: on the
// one-token products those conversions, not the bytes, bound the f32 kernel.
// PAIRS: thread i takes units 2i and 2i + 1, 2(i + WG) and 2(i + WG) + 1, ... through wN_pair, so types whose
// neighbouring units share words (Q4_K's, Q5_K's low and high nibbles) read them once.
// TOKENS: a workgroup takes $TOK tokens (speculative decoding's verify calls) for its $ROWS rows, each row
// by WG / $ROWS threads (its own main below): each unit of weights is read and decoded once for the $TOK
// tokens (without it, $TOK = 1 and workgroup z is the token).
// With DOT8 only: x (binding 2) is then `xq`, rounded once per product by quantize_x.wgsl, with each token's
// RMSNorm factor under NORM (loading and rounding f32 x in every workgroup for every token bounded the
// kernel: 9 tokens cost 10 one-token steps on the H200).
// Grid: (grid_x, ceil(ceil(rows / $ROWS) / grid_x), ceil(tokens / $TOK)).
const WG: u32 = $WGu;
const ROWS: u32 = $ROWSu;
const TOK: u32 = $TOKu;
const NACC: u32 = ROWS * TOK;  // outputs of one workgroup: slot r * TOK + t
//#if GATED
const NV: u32 = 2u;
//#else
const NV: u32 = 1u;
//#endif
// Values each thread reduces: the rows' products (gate's, then up's), then the sums of squares per token.
//#if NORM
const K: u32 = NV * NACC + TOK;
//#else
const K: u32 = NV * NACC;
//#endif

// A unit of a row as every weight type gives it (wN_unit): its 32 quants as bytes of 8 words (in the order
// of x; small unsigned quants read the same as signed bytes), and sum w * x = scale.x * (q . x over the
// first 16 values) + scale.y * (over the last 16) - offset.x * (sum of the first 16 x) - offset.y * (the last).
struct Unit {
  q: array<u32, 8>,
  scale: vec2<f32>,
  offset: vec2<f32>,
}

// Units 2p and 2p + 1 of a row (wN_pair): each type's own decoder where neighbouring units share words,
// else two wN_unit (matvec_pair.wgsl).
struct UnitPair {
  a: Unit,
  b: Unit,
}

fn unit_of(row: u32, u: u32) -> Unit {
//#if MULTI
  if (row >= P.rows0 + P.rows1) { return w2_unit((row - P.rows0 - P.rows1) * P.row_bytes2, u); }
  if (row >= P.rows0) { return w1_unit((row - P.rows0) * P.row_bytes1, u); }
//#endif
  return w0_unit(row * P.row_bytes0, u);
}

//#if PAIRS
fn pair_of(row: u32, p: u32) -> UnitPair {
//#if MULTI
  if (row >= P.rows0 + P.rows1) { return w2_pair((row - P.rows0 - P.rows1) * P.row_bytes2, p); }
  if (row >= P.rows0) { return w1_pair((row - P.rows0) * P.row_bytes1, p); }
//#endif
  return w0_pair(row * P.row_bytes0, p);
}
//#endif

// Unit u of x (times g under NORM) as the products take it, and its sum of squares (NORM).
struct XUnit {
//#if DOT8
  // Rounded to 8-bit integers on one scale d = max |v| / 127 (as the CPU's SIMD kernels and llama.cpp do),
  // with the sums of each half of those integers.
  q: array<u32, 8>,
  sums: vec2<f32>,
  d: f32,
//#else
  // As f32, with the sums of each half (for the types' offsets and minimums: d * (q - 8), d*sc*q - m).
  v: array<vec4<f32>, 8>,
  sums: vec2<f32>,
//#endif
  squares: f32,
}

//#if TOKENS
// Unit u of the token whose row of xq starts at vec4 `xbase`, as quantize_x.wgsl rounded it.
fn x_unit(xbase: u32, u: u32) -> XUnit {
  let a = xq[xbase + 3u * u];
  let b = xq[xbase + 3u * u + 1u];
  let c = xq[xbase + 3u * u + 2u];
  return XUnit(array<u32, 8>(a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w), bitcast<vec2<f32>>(c.yz), bitcast<f32>(c.x), 0.0);
}
//#else
fn x_unit(xbase: u32, u: u32) -> XUnit {
  let l = load_unit(xbase, u);
//#if DOT8
  let q = quantize_unit(l.v);
  return XUnit(q.q, q.sums, q.d, l.squares);
//#else
  var xs = vec2<f32>(0.0);
  for (var i = 0u; i < 4u; i++) { xs += vec2<f32>(dot(l.v[i], vec4<f32>(1.0)), dot(l.v[i + 4u], vec4<f32>(1.0))); }
  return XUnit(l.v, xs, l.squares);
//#endif
}
//#endif

// A unit of weights times the unit of x: scale.x * (q . x over the first 16 values) + scale.y * (over the
// last 16) - offset.x * (sum of the first 16 x) - offset.y * (the last), in x's integers and times d
// under DOT8.
fn times_x(w: Unit, a: XUnit) -> f32 {
//#if DOT8
  var acc = vec2<i32>(0);
  for (var k = 0u; k < 4u; k++) {
    acc += vec2<i32>(dot4I8Packed(w.q[k], a.q[k]), dot4I8Packed(w.q[k + 4u], a.q[k + 4u]));
  }
  return a.d * (dot(w.scale, vec2<f32>(acc)) - dot(w.offset, a.sums));
//#else
  var acc = vec2<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    acc += vec2<f32>(dot(sbytes4(w.q[k]), a.v[k]), dot(sbytes4(w.q[k + 4u]), a.v[k + 4u]));
  }
  return dot(w.scale, acc) - dot(w.offset, a.sums);
//#endif
}

//#if TOKENS
// Several tokens: thread i works for row i / LANES of the workgroup on its units i % LANES, i % LANES + LANES,
// ... — a weight unit decoded once for every token, and the threads of the workgroup's rows reading the same
// units of x at once (one load serves them all), so x crosses from the cache once per ROWS rows.
const LANES: u32 = WG / ROWS;  // threads per row
const KT: u32 = NV * TOK;      // a thread's partials: its row's product per token (gate's, then up's)
var<workgroup> red_t: array<f32, KT * WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let row0 = (wid.y * P.grid_x + wid.x) * ROWS;
  if (row0 >= P.rows) { return; }
  let xt0 = wid.z * TOK;
  if (xt0 >= step_n_tokens()) { return; }
  let count = min(TOK, step_n_tokens() - xt0);
  // Rows past the end (the last workgroup's) read the last row and are not written.
  let row = min(row0 + tid / LANES, P.rows - 1u);
  let xs = P.x_stride / 4u;
  let xbase = xt0 * xs;
  var acc: array<f32, KT>;
  for (var u = tid % LANES; u < P.cols / 32u; u += LANES) {
    let w = unit_of(row, u);
//#if GATED
    let g = w1_unit(row * P.row_bytes1, u);
//#endif
    // Written out per token (#repeat), so every index into `acc` is a constant and it stays in registers.
//#repeat t TOK
    if ($t < count) {
      let xa = x_unit(xbase + $t * xs, u);
      acc[$t] += times_x(w, xa);
//#if GATED
      acc[TOK + $t] += times_x(g, xa);
//#endif
    }
//#end
  }
  for (var k = 0u; k < KT; k++) { red_t[k * WG + tid] = acc[k]; }
  workgroupBarrier();
  for (var o = tid; o < ROWS * TOK; o += WG) {
    let r = o / TOK;
    let t = o % TOK;
    if (t < count && row0 + r < P.rows) {
      var v = 0.0;
      var up = 0.0;
      for (var l = 0u; l < LANES; l++) {
        v += red_t[t * WG + r * LANES + l];
//#if GATED
        up += red_t[(TOK + t) * WG + r * LANES + l];
//#endif
      }
      // quantize_x's RMSNorm factor for the token, after its units (1 without NORM).
      let scale = bitcast<f32>(xq[(xt0 + t) * xs + 3u * (P.cols / 32u)].x);
      store_output(v, up, scale, (xt0 + t) * P.y_stride + P.y_offset + row0 + r);
    }
  }
}
//#else
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
  let xs = P.x_stride / 4u;
  let xbase = xt0 * xs;
//#if PAIRS
  // Units 2p and 2p + 1 together: the types whose neighbouring units share words (Q4_K's and Q5_K's low
  // and high nibbles) read them and their scales once (wN_pair).
  for (var p = tid; p < P.cols / 64u; p += WG) {
    let xa = x_unit(xbase, 2u * p);
    let xb = x_unit(xbase, 2u * p + 1u);
//#if NORM
    part[NV * ROWS] += xa.squares + xb.squares;
//#endif
    for (var r = 0u; r < ROWS; r++) {
      // Rows past the end (the last workgroup's) read the last row and are not written.
      let row = min(row0 + r, P.rows - 1u);
      let w = pair_of(row, p);
      part[r] += times_x(w.a, xa) + times_x(w.b, xb);
//#if GATED
      let u = w1_pair(row * P.row_bytes1, p);
      part[ROWS + r] += times_x(u.a, xa) + times_x(u.b, xb);
//#endif
    }
  }
//#else
  for (var u = tid; u < P.cols / 32u; u += WG) {
    let xa = x_unit(xbase, u);
//#if NORM
    part[NV * ROWS] += xa.squares;
//#endif
    for (var r = 0u; r < ROWS; r++) {
      let row = min(row0 + r, P.rows - 1u);
      part[r] += times_x(unit_of(row, u), xa);
//#if GATED
      part[ROWS + r] += times_x(w1_unit(row * P.row_bytes1, u), xa);
//#endif
    }
  }
//#endif

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
//#endif
