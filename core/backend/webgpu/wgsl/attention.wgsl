// Causal attention over the KV cache with grouped-query heads, in one pass: a workgroup takes q head wid.x
// for $TQ consecutive tokens (1 when decoding, a tile when prefilling, so each key and value row is read
// once per tile), walks the cache in chunks of WG positions and keeps a running max and sum per query
// (online softmax), so any context length works with fixed workgroup memory.
// Token t0 + i attends to positions [0, pos + t0 + i]. Grid: (n_heads, 1, ceil(tokens / TQ)).
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  q_stride: u32,    // floats per token in the q buffer (the fused qkv rows)
  kv_dim: u32,      // floats per position in the cache
  out_stride: u32,
  scale: f32,       // 1 / sqrt(head_dim)
}

const WG: u32 = $WGu;
const TQ: u32 = $TQu;
const HD: u32 = $HDu;
const NO: u32 = (TQ * HD + WG - 1u) / WG;  // outputs per thread
const LOW: f32 = -1.0e30;                  // stands for -infinity (masked scores)

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> kcache: array<f32>;
@group(0) @binding(6) var<storage, read> vcache: array<f32>;

var<workgroup> qs: array<f32, TQ * HD>;
var<workgroup> sc: array<f32, TQ * WG>;
var<workgroup> corr: array<f32, TQ>;
var<workgroup> stats: array<vec2<f32>, TQ>;  // running max, running sum

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let kv_off = (h / (P.n_heads / P.n_kv_heads)) * HD;
  let n = step_n_tokens();
  let t0 = wid.z * TQ;
  if (t0 >= n) { return; }
  let nq = min(TQ, n - t0);
  let pos = step_pos();
  for (var i = tid; i < TQ * HD; i += WG) {
    let tq = i / HD;
    var v = 0.0;
    if (tq < nq) { v = q[(t0 + tq) * P.q_stride + h * HD + i % HD] * P.scale; }
    qs[i] = v;
  }
  if (tid < TQ) { stats[tid] = vec2<f32>(LOW, 0.0); }
  var acc: array<f32, NO>;
  let kv_len = pos + t0 + nq;
  for (var c0 = 0u; c0 < kv_len; c0 += WG) {
    workgroupBarrier();
    let p = c0 + tid;
    for (var tq = 0u; tq < TQ; tq++) {
      var s = LOW;
      if (tq < nq && p <= pos + t0 + tq) {
        s = 0.0;
        let k = p * P.kv_dim + kv_off;
        for (var d = 0u; d < HD; d++) { s += qs[tq * HD + d] * kcache[k + d]; }
      }
      sc[tq * WG + tid] = s;
    }
    workgroupBarrier();
    if (tid < TQ) {
      let m_old = stats[tid].x;
      var m = m_old;
      for (var j = 0u; j < WG; j++) { m = max(m, sc[tid * WG + j]); }
      var sum = 0.0;
      for (var j = 0u; j < WG; j++) {
        let e = exp(sc[tid * WG + j] - m);
        sc[tid * WG + j] = e;
        sum += e;
      }
      let c = exp(m_old - m);
      corr[tid] = c;
      stats[tid] = vec2<f32>(m, stats[tid].y * c + sum);
    }
    workgroupBarrier();
    let chunk = min(WG, kv_len - c0);
    for (var j = 0u; j < NO; j++) {
      let o = tid + j * WG;
      if (o < TQ * HD) {
        let tq = o / HD;
        var a = acc[j] * corr[tq];
        let v = c0 * P.kv_dim + kv_off + o % HD;
        for (var jj = 0u; jj < chunk; jj++) { a += sc[tq * WG + jj] * vcache[v + jj * P.kv_dim]; }
        acc[j] = a;
      }
    }
  }
  for (var j = 0u; j < NO; j++) {
    let o = tid + j * WG;
    let tq = o / HD;
    if (o < TQ * HD && tq < nq) {
      out[(t0 + tq) * P.out_stride + h * HD + o % HD] = acc[j] / stats[tq].y;
    }
  }
}
