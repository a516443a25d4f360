// After the fused Q,K,V product: per head and token, add the bias (qwen2), RMS-normalize q and k heads
// (qwen3), rotate q and k by RoPE, keep q in place and append k and v to the layer's KV cache at pos + t.
// The head is "slot" wid.x: q heads [0, n_heads), then k heads, then v heads, all in one row of qkv.
// Grid: (n_heads + 2 * n_kv_heads, 1, tokens).
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

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(4) var<storage, read> rope: array<vec2<f32>>;  // [position][pair] (cos, sin), of the layer's kind
@group(0) @binding(5) var<storage, read_write> kcache: array<f32>;
@group(0) @binding(6) var<storage, read_write> vcache: array<f32>;
//#if BIAS
@group(0) @binding(7) var<storage, read> bias: array<f32>;        // bq | bk | bv
//#endif
//#if QKNORM
@group(0) @binding(8) var<storage, read> qknorm: array<f32>;      // q_norm | k_norm
//#endif

var<workgroup> head: array<f32, 512>;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let slot = wid.x;
  let hd = P.head_dim;
  let pos = step_pos() + t;
  let base = t * P.qkv_stride + slot * hd;
  for (var i = tid; i < hd; i += WG) {
    var v = qkv[base + i];
//#if BIAS
    v += bias[slot * hd + i];
//#endif
    head[i] = v;
  }
  workgroupBarrier();
  let rotated = slot < P.n_heads + P.n_kv_heads;
  if (rotated) {
//#if QKNORM
    var ss = 0.0;
    for (var i = tid; i < hd; i += WG) { ss += head[i] * head[i]; }
    red[tid] = ss;
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      workgroupBarrier();
      if (tid < s) { red[tid] += red[tid + s]; }
    }
    workgroupBarrier();
    let scale = inverseSqrt(red[0] / f32(hd) + P.eps);
    let norm_base = select(hd, 0u, slot < P.n_heads);
    for (var i = tid; i < hd; i += WG) { head[i] = head[i] * scale * qknorm[norm_base + i]; }
    workgroupBarrier();
//#endif
    for (var i = tid; i < P.rope_pairs; i += WG) {
      let a = select(2u * i, i, P.halves == 1u);
      let b = select(2u * i + 1u, i + P.rope_pairs, P.halves == 1u);
      let cs = rope[pos * P.rope_pairs + i];
      let x0 = head[a];
      let x1 = head[b];
      head[a] = x0 * cs.x - x1 * cs.y;
      head[b] = x0 * cs.y + x1 * cs.x;
    }
  }
  workgroupBarrier();
  if (slot < P.n_heads) {
    for (var i = tid; i < hd; i += WG) { qkv[base + i] = head[i]; }
  } else if (slot < P.n_heads + P.n_kv_heads) {
    let o = pos * P.kv_dim + (slot - P.n_heads) * hd;
    for (var i = tid; i < hd; i += WG) { kcache[o + i] = head[i]; }
  } else {
    let o = pos * P.kv_dim + (slot - P.n_heads - P.n_kv_heads) * hd;
    for (var i = tid; i < hd; i += WG) { vcache[o + i] = head[i]; }
  }
}
