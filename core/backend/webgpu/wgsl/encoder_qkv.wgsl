// An encoder's q, k, v after their product (one row of q | k | v per token): the BIAS added (bert), and with
// ROPE (nomic-bert) the heads of q and k rotated by the token's position in its input, from the table of
// (cos, sin) per [position][pair] (ops::rope_rotate: pairs (i, i + rope_dims / 2) with HALVES, (2i, 2i + 1)
// otherwise). Each value is touched by one thread: the rotated pairs by the thread of the pair, the rest
// (v, and dimensions past rope_dims) by the strided loop. One workgroup per token. Grid: (1, 1, tokens).
struct Params {
  stride: u32,      // q_dim + 2 kv_dim
  qk_heads: u32,    // n_heads + n_kv_heads: the heads of q and k, one after another
  head_dim: u32,
  rope_pairs: u32,  // rope_dims / 2
  halves: u32,
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
@group(0) @binding(5) var<storage, read> bias: array<f32>;
//#endif

fn bias_at(i: u32) -> f32 {
//#if BIAS
  return bias[i];
//#else
  return 0.0;
//#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let row = t * P.stride;
//#if ROPE
  let rotated_end = P.qk_heads * P.head_dim;
  for (var i = tid; i < P.stride; i += WG) {
    if (i >= rotated_end || i % P.head_dim >= 2u * P.rope_pairs) { qkv[row + i] += bias_at(i); }
  }
  let table = seq_position(t) * P.rope_pairs;
  for (var j = tid; j < P.qk_heads * P.rope_pairs; j += WG) {
    let head = j / P.rope_pairs;
    let k = j % P.rope_pairs;
    let a = head * P.head_dim + select(2u * k, k, P.halves == 1u);
    let b = select(a + 1u, a + P.rope_pairs, P.halves == 1u);
    let x0 = qkv[row + a] + bias_at(a);
    let x1 = qkv[row + b] + bias_at(b);
    let c = rope[2u * (table + k)];
    let s = rope[2u * (table + k) + 1u];
    qkv[row + a] = x0 * c - x1 * s;
    qkv[row + b] = x0 * s + x1 * c;
  }
//#else
  for (var i = tid; i < P.stride; i += WG) { qkv[row + i] += bias_at(i); }
//#endif
}
