// Decode attention, split over the cache (one new token): workgroup (h, s) takes q head h and the s-th of
// $Su equal slices of the positions the query sees ([0, pos], or its window), and writes a partial result —
// running max m, sum of exp l and the unnormalized output acc — for attention_combine to merge. Splitting keeps every SM busy even with few
// heads and makes the time grow with the context only by pos / S per workgroup.
// Grid: (n_heads, S, 1). Partials: [head][slice][m, l, acc[HD]].
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  q_stride: u32,    // floats per token in the q buffer (the fused qkv rows)
  kv_dim: u32,      // values per position in the cache
  out_stride: u32,  // (unused here; attention_combine's)
  scale: f32,       // multiplies q·k (the model's attn_scale)
  soft_cap: f32,    // > 0: scores soft-capped after scaling (Gemma 2)
  window: u32,      // > 0: the query sees only its last `window` positions (sliding-window layers)
}

const WG: u32 = $WGu;
const HD: u32 = $HDu;
const S: u32 = $Su;
const NO: u32 = (HD + WG - 1u) / WG;  // outputs per thread
const LOW: f32 = -1.0e30;             // stands for -infinity

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@group(0) @binding(5) var<storage, read> kcache: array<u32>;  // read through kv_<type>.wgsl
@group(0) @binding(6) var<storage, read> vcache: array<u32>;

var<workgroup> qs: array<vec4<f32>, HD / 4u>;
var<workgroup> sc: array<f32, WG>;
var<workgroup> red: array<f32, WG>;

fn reduce_max(v: f32, tid: u32) -> f32 {
  red[tid] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (tid < s) { red[tid] = max(red[tid], red[tid + s]); }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(v: f32, tid: u32) -> f32 {
  red[tid] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (tid < s) { red[tid] += red[tid + s]; }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let kv_off = (h / (P.n_heads / P.n_kv_heads)) * HD;
  let kv_len = step_pos() + 1u;
  let first = window_start(step_pos(), P.window);
  let per = (kv_len - first + S - 1u) / S;
  let p0 = min(kv_len, first + wid.y * per);
  let p1 = min(kv_len, p0 + per);
  let qbase = h * HD;
  for (var i = tid; i < HD / 4u; i += WG) {
    let j = qbase + 4u * i;
    qs[i] = vec4<f32>(q[j], q[j + 1u], q[j + 2u], q[j + 3u]) * P.scale;
  }
  var m = LOW;
  var l = 0.0;
  var acc: array<f32, NO>;
  for (var c0 = p0; c0 < p1; c0 += WG) {
    workgroupBarrier();
    let p = c0 + tid;
    var s = LOW;
    if (p < p1) {
      s = 0.0;
      let k = p * P.kv_dim + kv_off;
      for (var d = 0u; d < HD / 4u; d++) { s += dot(qs[d], kcache_load4(k + 4u * d)); }
      s = soft_cap(s, P.soft_cap);
    }
    let m_new = max(m, reduce_max(s, tid));
    let e = select(0.0, exp(s - m_new), p < p1);
    sc[tid] = e;
    let c = exp(m - m_new);
    l = l * c + reduce_sum(e, tid);
    m = m_new;
    let chunk = min(WG, p1 - c0);
    for (var j = 0u; j < NO; j++) {
      let o = tid + j * WG;
      if (o < HD) {
        var a = acc[j] * c;
        let v = c0 * P.kv_dim + kv_off + o;
        for (var jj = 0u; jj < chunk; jj++) { a += sc[jj] * vcache_load(v + jj * P.kv_dim); }
        acc[j] = a;
      }
    }
  }
  let base = (h * S + wid.y) * (HD + 2u);
  if (tid == 0u) {
    part[base] = m;
    part[base + 1u] = l;
  }
  for (var j = 0u; j < NO; j++) {
    let o = tid + j * WG;
    if (o < HD) { part[base + 2u + o] = acc[j]; }
  }
}
