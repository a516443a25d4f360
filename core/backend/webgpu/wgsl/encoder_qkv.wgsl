// The q, k, v of an embedding pass after their product (one row of q | k | v per token), as the CPU takes
// them: the BIAS added (bert, qwen2), with QKNORM each head of q and k RMS-normalised with its weights (qwen3),
// with ROPE the heads of q and k rotated by the token's position in its own input, from the table of
// (cos, sin) per [position][pair] (ops::rope_rotate: pairs (i, i + rope_dims / 2) with HALVES, (2i, 2i + 1)
// otherwise). One workgroup per token; each step's values are written by one thread each, and a storage
// barrier lets the next step read them. Grid: (1, 1, tokens).
struct Params {
  stride: u32,      // q_dim + 2 kv_dim
  qk_heads: u32,    // n_heads + n_kv_heads: the heads of q and k, one after another
  head_dim: u32,
  rope_pairs: u32,  // rope_dims / 2
  halves: u32,
  n_heads: u32,
  eps: f32,
}

const WG: u32 = $WGu;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> seqs: array<u32>;
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;
//#if ROPE
@group(0) @binding(4) var<storage, read> rope: array<f32>;
//#endif
//#if BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;    // bq | bk | bv
//#endif
//#if QKNORM
@group(0) @binding(6) var<storage, read> qknorm: array<f32>;  // q_norm | k_norm
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let row = t * P.stride;
  let hd = P.head_dim;
//#if BIAS
  for (var i = tid; i < P.stride; i += WG) { qkv[row + i] += bias[i]; }
  storageBarrier();
//#endif
//#if QKNORM
  for (var h = 0u; h < P.qk_heads; h++) {
    var ss = 0.0;
    for (var i = tid; i < hd; i += WG) { ss += qkv[row + h * hd + i] * qkv[row + h * hd + i]; }
    let scale = inverseSqrt(workgroup_sum(ss, tid) / f32(hd) + P.eps);
    let w = select(hd, 0u, h < P.n_heads);  // q_norm, or k_norm after it
    for (var i = tid; i < hd; i += WG) { qkv[row + h * hd + i] *= scale * qknorm[w + i]; }
  }
  storageBarrier();
//#endif
//#if ROPE
  let table = seq_position(t) * P.rope_pairs;
  for (var j = tid; j < P.qk_heads * P.rope_pairs; j += WG) {
    let head = j / P.rope_pairs;
    let k = j % P.rope_pairs;
    let a = row + head * hd + select(2u * k, k, P.halves == 1u);
    let b = select(a + 1u, a + P.rope_pairs, P.halves == 1u);
    let x0 = qkv[a];
    let x1 = qkv[b];
    let c = rope[2u * (table + k)];
    let s = rope[2u * (table + k) + 1u];
    qkv[a] = x0 * c - x1 * s;
    qkv[b] = x0 * s + x1 * c;
  }
//#endif
}
