// After the fused Q,K,V product: per head and token, add the bias (qwen2), RMS-normalize q and k heads
// (qwen3), rotate q and k by RoPE (qkv_head.wgsl), keep q in place and append k and v to the layer's KV
// cache at pos + t. (Decode runs this inside attention_split instead: its POST flag.)
// Workgroup wid.x takes q head wid.x (< n_heads), else a unit of UNIT consecutive values of the token's k,
// then of its v row: whole heads and whole groups of the cache's codec (kv_<type>.wgsl: a q8_0 block may
// span several heads, or cut through one), so every cache group is written by one thread.
// Grid: (n_heads + 2 * kv_dim / UNIT, 1, tokens).
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  rope_pairs: u32,  // rope_dims / 2
  halves: u32,      // 1: pairs (i, i + rope_pairs) (neox); 0: (2i, 2i + 1); dims past rope_pairs * 2 stay
  qkv_stride: u32,  // floats per token in qkv
  kv_dim: u32,
  eps: f32,
}

const WG: u32 = 64u;
const UNIT: u32 = $UNITu;  // a multiple of head_dim and of the cache's group

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(4) var<storage, read> rope: array<vec2<f32>>;  // [position][pair] (cos, sin), of the layer's kind
@group(0) @binding(5) var<storage, read_write> kcache: array<u32>;
@group(0) @binding(6) var<storage, read_write> vcache: array<u32>;
//#if BIAS
@group(0) @binding(7) var<storage, read> bias: array<f32>;        // bq | bk | bv
//#endif
//#if QKNORM
@group(0) @binding(8) var<storage, read> qknorm: array<f32>;      // q_norm | k_norm
//#endif

var<workgroup> head: array<f32, UNIT>;  // a q head, or a k or v unit
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let slot = wid.x;
  let hd = P.head_dim;
  let pos = step_pos() + t;
  let q_dim = P.n_heads * hd;
  let units = P.kv_dim / UNIT;
  // kind 0: q head `slot`; 1, 2: unit u of k, of v. `first`: where it starts in the token's qkv row.
  var kind = 0u;
  var u = 0u;
  var first = slot * hd;
  var n = hd;
  if (slot >= P.n_heads) {
    kind = select(2u, 1u, slot < P.n_heads + units);
    u = select(slot - P.n_heads - units, slot - P.n_heads, kind == 1u);
    first = q_dim + (kind - 1u) * P.kv_dim + u * UNIT;
    n = UNIT;
  }
  let base = t * P.qkv_stride + first;
//#if QKNORM
  stage_head(0u, base, first, n, tid);
  workgroupBarrier();
  if (kind < 2u) {
    norm_heads(0u, n / hd, hd, select(hd, 0u, kind == 0u), P.eps, tid);
    workgroupBarrier();
    rope_heads(0u, n / hd, hd, P.rope_pairs, P.halves, pos, tid);
  }
//#else
  if (kind < 2u) {
    stage_rotated(0u, base, first, n, hd, P.rope_pairs, P.halves, pos, tid);
  } else {
    stage_head(0u, base, first, n, tid);
  }
//#endif
  workgroupBarrier();
  if (kind == 0u) {
    for (var i = tid; i < hd; i += WG) { qkv[base + i] = head[i]; }
  } else if (kind == 1u) {
    let e = pos * P.kv_dim + u * UNIT;
    for (var g = tid * kcache_group; g < UNIT; g += WG * kcache_group) {
      var v: array<f32, kcache_group>;
      for (var j = 0u; j < kcache_group; j++) { v[j] = head[g + j]; }
      kcache_store(e + g, v);
    }
  } else {
    let e = pos * P.kv_dim + u * UNIT;
    for (var g = tid * vcache_group; g < UNIT; g += WG * vcache_group) {
      var v: array<f32, vcache_group>;
      for (var j = 0u; j < vcache_group; j++) { v[j] = head[g + j]; }
      vcache_store(e + g, v);
    }
  }
}
