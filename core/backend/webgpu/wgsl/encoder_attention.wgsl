// Encoder attention: each token's head attends over the tokens of its own input (all of them: bidirectional;
// with causal set, those up to itself), q, k and v read from the rows of the qkv buffer, GQA by head groups.
// Online softmax over chunks of WG keys: a thread scores one key of the chunk, the workgroup reduces the
// chunk's max and sum, then each thread accumulates its own dimensions of the output (HD / WG of them).
// One workgroup per (head, token). Grid: (heads, 1, tokens).
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  stride: u32,  // floats per token in qkv: q_dim + 2 kv_dim
  q_dim: u32,
  kv_dim: u32,
  scale: f32,
  causal: u32,
}

const WG: u32 = $WGu;
const HD: u32 = $HDu;
const DPT: u32 = (HD + WG - 1u) / WG;  // output dimensions per thread
const LOW: f32 = -3.0e38;             // below every score: exp(LOW - m) is 0

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> seqs: array<u32>;
@group(0) @binding(3) var<storage, read> qkv: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<f32, HD>;
var<workgroup> ps: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let first = seq_start(t);
  let seen = select(seq_length(t), seq_position(t) + 1u, P.causal == 1u);
  let kv_off = (h / (P.n_heads / P.n_kv_heads)) * HD;
  for (var d = tid; d < HD; d += WG) { qs[d] = qkv[t * P.stride + h * HD + d]; }
  workgroupBarrier();
  var m = LOW;
  var l = 0.0;
  var acc: array<f32, DPT>;
  for (var c0 = 0u; c0 < seen; c0 += WG) {
    let j = c0 + tid;
    var s = LOW;
    if (j < seen) {
      let k = (first + j) * P.stride + P.q_dim + kv_off;
      var dot = 0.0;
      for (var d = 0u; d < HD; d++) { dot += qs[d] * qkv[k + d]; }
      s = dot * P.scale;
    }
    let m_new = max(m, workgroup_max(s, tid));
    let p = select(0.0, exp(s - m_new), j < seen);
    ps[tid] = p;
    let correction = exp(m - m_new);
    l = l * correction + workgroup_sum(p, tid);  // its barriers also publish ps
    m = m_new;
    let count = min(WG, seen - c0);
    for (var i = 0u; i < DPT; i++) { acc[i] *= correction; }
    for (var jj = 0u; jj < count; jj++) {
      let v = (first + c0 + jj) * P.stride + P.q_dim + P.kv_dim + kv_off;
      let pj = ps[jj];
      for (var i = 0u; i < DPT; i++) {
        let d = tid + i * WG;
        if (d < HD) { acc[i] += pj * qkv[v + d]; }
      }
    }
    workgroupBarrier();  // ps is rewritten by the next chunk
  }
  for (var i = 0u; i < DPT; i++) {
    let d = tid + i * WG;
    if (d < HD) { out[t * P.q_dim + h * HD + d] = acc[i] / l; }
  }
}
