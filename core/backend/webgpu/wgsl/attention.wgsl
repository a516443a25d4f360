// Causal attention over the KV cache with grouped-query heads, in one pass: a workgroup takes q head wid.x
// for $TQ consecutive tokens (1 when decoding, a tile when prefilling, so each key and value row is read
// once per tile), walks the cache in chunks of WG positions and keeps a running max and sum per query
// (online softmax), so any context length works with fixed workgroup memory.
// Token t0 + i attends to positions [window_start(pos + t0 + i), pos + t0 + i]. Grid: (n_heads, 1, ceil(tokens / TQ)).
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  q_stride: u32,    // floats per token in the q buffer (the fused qkv rows)
  kv_dim: u32,      // values per position in the cache
  out_stride: u32,
  scale: f32,       // multiplies q·k (the model's attn_scale)
  soft_cap: f32,    // > 0: scores soft-capped after scaling (Gemma 2)
  window: u32,      // > 0: a query at p sees only positions p - window + 1 .. p (sliding-window layers)
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
@group(0) @binding(5) var<storage, read> kcache: array<u32>;  // read through kv_<type>.wgsl
@group(0) @binding(6) var<storage, read> vcache: array<u32>;

var<workgroup> qs: array<vec4<f32>, TQ * HD / 4u>;
var<workgroup> sc: array<f32, TQ * WG>;
var<workgroup> corr: array<f32, TQ>;
var<workgroup> cmax: array<f32, TQ>;
var<workgroup> red: array<f32, TQ * WG>;
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
  for (var i = tid; i < TQ * HD / 4u; i += WG) {
    let tq = i / (HD / 4u);
    var v = vec4<f32>(0.0);
    if (tq < nq) {
      let j = (t0 + tq) * P.q_stride + h * HD + 4u * (i % (HD / 4u));
      v = vec4<f32>(q[j], q[j + 1u], q[j + 2u], q[j + 3u]) * P.scale;
    }
    qs[i] = v;
  }
  if (tid < TQ) { stats[tid] = vec2<f32>(LOW, 0.0); }
  var acc: array<f32, NO>;
  let kv_len = pos + t0 + nq;
  // From the first position the tile's first query sees: each query's own first one lies in the first
  // chunk (they differ by less than TQ), so every running max is a real score after it.
  let first = window_start(pos + t0, P.window);
  for (var c0 = first; c0 < kv_len; c0 += WG) {
    workgroupBarrier();
    let p = c0 + tid;
    // Each key row is read once, as vec4s, for all the tile's queries.
    var dots = array<f32, TQ>();
    if (p < kv_len) {
      let k = p * P.kv_dim + kv_off;
      for (var d = 0u; d < HD / 4u; d++) {
        let kv = kcache_load4(k + 4u * d);
        for (var tq = 0u; tq < TQ; tq++) { dots[tq] += dot(qs[tq * (HD / 4u) + d], kv); }
      }
    }
    for (var tq = 0u; tq < TQ; tq++) {
      var s = LOW;
      let qpos = pos + t0 + tq;
      if (tq < nq && p <= qpos && p >= window_start(qpos, P.window)) { s = soft_cap(dots[tq], P.soft_cap); }
      sc[tq * WG + tid] = s;
    }
    // Softmax statistics of the chunk for every query at once: tree reductions over the workgroup.
    for (var tq = 0u; tq < TQ; tq++) { red[tq * WG + tid] = sc[tq * WG + tid]; }
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      workgroupBarrier();
      if (tid < s) {
        for (var tq = 0u; tq < TQ; tq++) { red[tq * WG + tid] = max(red[tq * WG + tid], red[tq * WG + tid + s]); }
      }
    }
    workgroupBarrier();
    if (tid < TQ) { cmax[tid] = max(stats[tid].x, red[tid * WG]); }
    workgroupBarrier();
    for (var tq = 0u; tq < TQ; tq++) {
      let e = exp(sc[tq * WG + tid] - cmax[tq]);
      sc[tq * WG + tid] = e;
      red[tq * WG + tid] = e;
    }
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      workgroupBarrier();
      if (tid < s) {
        for (var tq = 0u; tq < TQ; tq++) { red[tq * WG + tid] += red[tq * WG + tid + s]; }
      }
    }
    workgroupBarrier();
    if (tid < TQ) {
      let c = exp(stats[tid].x - cmax[tid]);
      corr[tid] = c;
      stats[tid] = vec2<f32>(cmax[tid], stats[tid].y * c + red[tid * WG]);
    }
    workgroupBarrier();
    let chunk = min(WG, kv_len - c0);
    for (var j = 0u; j < NO; j++) {
      let o = tid + j * WG;
      if (o < TQ * HD) {
        let tq = o / HD;
        var a = acc[j] * corr[tq];
        let v = c0 * P.kv_dim + kv_off + o % HD;
        for (var jj = 0u; jj < chunk; jj++) { a += sc[tq * WG + jj] * vcache_load(v + jj * P.kv_dim); }
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
