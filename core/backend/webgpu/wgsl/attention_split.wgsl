// Decode attention, split over the cache: workgroup (h, s, t) takes token t's q head h and the s-th of
// $Su equal slices of the positions the query sees ([0, pos], or its window), and writes a partial result —
// running max m, sum of exp l and the unnormalized output acc — for attention_combine to merge. Splitting keeps every SM busy even with few
// heads and makes the time grow with the context only by pos / S per workgroup. Token t of a step (the verify
// list's several) sits at step_pos() + t and sees the positions up to its own.
// POST: the step's qkv row as the Q,K,V product left it, so the work of qkv_post runs here (qkv_head.wgsl)
// and decode has one dispatch less per layer: each workgroup rotates its q head; the slice that holds the new
// position takes that position's key and value from the qkv row, as the cache codec rounds them, not from
// the cache, which the first q head of each KV group writes (kv_<type>.wgsl: whole groups within a head).
// POST takes one token a step only.
// Grid: (n_heads, S, tokens). Partials: [token][head][slice][m, l, acc[HD]].
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  q_stride: u32,    // floats per token in the q buffer (the fused qkv rows)
  kv_dim: u32,      // values per position in the cache
  out_stride: u32,  // (unused here; attention_combine's)
  scale: f32,       // multiplies q·k (the model's attn_scale)
  soft_cap: f32,    // > 0: scores soft-capped after scaling (Gemma 2)
  window: u32,      // > 0: the query sees only its last `window` positions (sliding-window layers)
  rope_pairs: u32,  // POST: as qkv_post.wgsl's
  halves: u32,
  eps: f32,
}

const WG: u32 = $WGu;
const HD: u32 = $HDu;
const S: u32 = $Su;
const MIN_SLICE: u32 = $MIN_SLICEu;  // positions a slice takes at least: short contexts fill fewer slices
const NO: u32 = (HD + WG - 1u) / WG;  // outputs per thread
const LOW: f32 = -1.0e30;             // stands for -infinity

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
//#if POST
@group(0) @binding(4) var<storage, read> rope: array<vec2<f32>>;  // [position][pair] (cos, sin)
@group(0) @binding(5) var<storage, read_write> kcache: array<u32>;  // through kv_<type>.wgsl
@group(0) @binding(6) var<storage, read_write> vcache: array<u32>;
//#if BIAS
@group(0) @binding(7) var<storage, read> bias: array<f32>;        // bq | bk | bv
//#endif
//#if QKNORM
@group(0) @binding(8) var<storage, read> qknorm: array<f32>;      // q_norm | k_norm
//#endif
var<workgroup> head: array<f32, 3u * HD>;  // the q head, then the new position's key and value
//#else
@group(0) @binding(5) var<storage, read> kcache: array<u32>;  // read through kv_<type>.wgsl
@group(0) @binding(6) var<storage, read> vcache: array<u32>;
//#endif

var<workgroup> qs: array<vec4<f32>, HD / 4u>;
var<workgroup> sc: array<f32, WG>;

// q (staged in qs, scaled) · the key of position p, whose cache elements start at e; soft-capped. Each
// path is one straight loop, so its loads can all be in flight at once.
fn score(p: u32, pos: u32, e: u32) -> f32 {
  var s = 0.0;
//#if POST
  if (p == pos) {  // the new position's key, staged by post()
    for (var d = 0u; d < HD / 4u; d++) {
      let i = HD + 4u * d;
      s += dot(qs[d], vec4<f32>(head[i], head[i + 1u], head[i + 2u], head[i + 3u]));
    }
    return soft_cap(s, P.soft_cap);
  }
//#endif
  for (var d = 0u; d < HD / 4u; d++) { s += dot(qs[d], kcache_load4(e + 4u * d)); }
  return soft_cap(s, P.soft_cap);
}

// Value o of position p, whose cache element is e. Under POST the new position's comes from the staged
// head; its cache element is read all the same (a select, not a branch) and then unused.
fn value(p: u32, pos: u32, e: u32, o: u32) -> f32 {
  let v = vcache_load(e);
//#if POST
  return select(v, head[2u * HD + o], p == pos);
//#else
  return v;
//#endif
}

//#if POST
// The q head h, and where the slice holds the new position its key and value (rounded by the codec; the
// first q head of the KV group stores them).
fn post(h: u32, kv_off: u32, pos: u32, fresh: bool, tid: u32) {
  let q_dim = P.n_heads * HD;
  let k_at = q_dim + kv_off;
  let v_at = q_dim + P.kv_dim + kv_off;
//#if QKNORM
  stage_head(0u, h * HD, h * HD, HD, tid);
  if (fresh) {
    stage_head(HD, k_at, k_at, HD, tid);
    stage_head(2u * HD, v_at, v_at, HD, tid);
  }
  workgroupBarrier();
  norm_heads(0u, 1u, HD, 0u, P.eps, tid);
  norm_heads(HD, 1u, HD, HD, P.eps, tid);
  workgroupBarrier();
  rope_heads(0u, 2u, HD, P.rope_pairs, P.halves, pos, tid);
//#else
  stage_rotated(0u, h * HD, h * HD, HD, HD, P.rope_pairs, P.halves, pos, tid);
  if (fresh) {
    stage_rotated(HD, k_at, k_at, HD, HD, P.rope_pairs, P.halves, pos, tid);
    stage_head(2u * HD, v_at, v_at, HD, tid);
  }
//#endif
  workgroupBarrier();
  if (fresh) {
    let store = h % (P.n_heads / P.n_kv_heads) == 0u;
    let e = pos * P.kv_dim + kv_off;
    for (var g = tid * kcache_group; g < HD; g += WG * kcache_group) {
      var v: array<f32, kcache_group>;
      for (var j = 0u; j < kcache_group; j++) { v[j] = head[HD + g + j]; }
      if (store) { kcache_store(e + g, v); }
      let r = kcache_round(v);
      for (var j = 0u; j < kcache_group; j++) { head[HD + g + j] = r[j]; }
    }
    for (var g = tid * vcache_group; g < HD; g += WG * vcache_group) {
      var v: array<f32, vcache_group>;
      for (var j = 0u; j < vcache_group; j++) { v[j] = head[2u * HD + g + j]; }
      if (store) { vcache_store(e + g, v); }
      let r = vcache_round(v);
      for (var j = 0u; j < vcache_group; j++) { head[2u * HD + g + j] = r[j]; }
    }
  }
  workgroupBarrier();
}
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
//#if SUBGROUPS
        @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_n: u32,
//#endif
        ) {
//#if SUBGROUPS
  lane = sg_lane;
  sg_size = sg_n;
//#endif
  let h = wid.x;
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let kv_off = (h / (P.n_heads / P.n_kv_heads)) * HD;
  let kv_len = step_pos() + t + 1u;
  let first = window_start(kv_len - 1u, P.window);
  let per = max((kv_len - first + S - 1u) / S, MIN_SLICE);
  let p0 = min(kv_len, first + wid.y * per);
  let p1 = min(kv_len, p0 + per);
  let pos = kv_len - 1u;
  let base = ((t * P.n_heads + h) * S + wid.y) * (HD + 2u);
  if (p0 >= p1) {
    // An empty slice (a short cache): a partial that weighs nothing, and none of the work below.
    if (tid == 0u) {
      part[base] = LOW;
      part[base + 1u] = 0.0;
    }
    for (var o = tid; o < HD; o += WG) { part[base + 2u + o] = 0.0; }
    return;
  }
//#if POST
  post(h, kv_off, pos, p0 <= pos && pos < p1, tid);
  for (var i = tid; i < HD / 4u; i += WG) {
    let j = 4u * i;
    qs[i] = vec4<f32>(head[j], head[j + 1u], head[j + 2u], head[j + 3u]) * P.scale;
  }
//#else
  let qbase = t * P.q_stride + h * HD;
  for (var i = tid; i < HD / 4u; i += WG) {
    let j = qbase + 4u * i;
    qs[i] = vec4<f32>(qkv[j], qkv[j + 1u], qkv[j + 2u], qkv[j + 3u]) * P.scale;
  }
//#endif
  var m = LOW;
  var l = 0.0;
  var acc: array<f32, NO>;
  for (var c0 = p0; c0 < p1; c0 += WG) {
    workgroupBarrier();
    let p = c0 + tid;
    var s = LOW;
    if (p < p1) {
      s = score(p, pos, p * P.kv_dim + kv_off);
    }
    let m_new = max(m, workgroup_max(s, tid));
    let e = select(0.0, exp(s - m_new), p < p1);
    sc[tid] = e;
    let c = exp(m - m_new);
    l = l * c + workgroup_sum(e, tid);
    m = m_new;
    let chunk = min(WG, p1 - c0);
    for (var j = 0u; j < NO; j++) {
      let o = tid + j * WG;
      if (o < HD) {
        var a = acc[j] * c;
        let v = c0 * P.kv_dim + kv_off + o;
        // Four positions a round, their loads issued together; the sum keeps the order of positions.
        var jj = 0u;
        for (; jj + 4u <= chunk; jj += 4u) {
          let e = v + jj * P.kv_dim;
          let x0 = value(c0 + jj, pos, e, o);
          let x1 = value(c0 + jj + 1u, pos, e + P.kv_dim, o);
          let x2 = value(c0 + jj + 2u, pos, e + 2u * P.kv_dim, o);
          let x3 = value(c0 + jj + 3u, pos, e + 3u * P.kv_dim, o);
          a += sc[jj] * x0;
          a += sc[jj + 1u] * x1;
          a += sc[jj + 2u] * x2;
          a += sc[jj + 3u] * x3;
        }
        for (; jj < chunk; jj++) { a += sc[jj] * value(c0 + jj, pos, v + jj * P.kv_dim, o); }
        acc[j] = a;
      }
    }
  }
  if (tid == 0u) {
    part[base] = m;
    part[base + 1u] = l;
  }
  for (var j = 0u; j < NO; j++) {
    let o = tid + j * WG;
    if (o < HD) { part[base + 2u + o] = acc[j]; }
  }
}
