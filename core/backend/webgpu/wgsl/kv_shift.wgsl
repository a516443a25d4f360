// A context shift in one layer (core/backend/backend.h, KvShift): the key and value rows of positions
// [keep + discard, end) move down by discard, and the keys are rotated by -discard (RoPE), so that they
// read as computed at their new positions. The core plans discard >= the rows moved, so no row is written
// where a row still to be read lies. As on the CPU, a moved row is decoded, rotated (keys) and stored again
// in the cache's type. Workgroup wid.x takes a unit of UNIT values of every moved key row (wid.x < units),
// else of every value row: whole heads and whole groups of the cache's codec, as qkv_post writes them.
// Grid: (2 * kv_dim / UNIT, row slices), rows strided over the y workgroups.
struct Params {
  n_kv_heads: u32,
  head_dim: u32,
  rope_pairs: u32,  // rope_dims / 2
  halves: u32,      // 1: pairs (i, i + rope_pairs) (neox); 0: (2i, 2i + 1); dims past the pairs stay
  kv_dim: u32,
}

const WG: u32 = $WGu;
const UNIT: u32 = $UNITu;  // a multiple of head_dim and of the cache's group

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> kv_shift: array<u32>;        // [keep, discard, end, 0], written per shift
@group(0) @binding(4) var<storage, read> rotation: array<vec2<f32>>;  // [distance][pair] (cos, sin), no attn_factor
@group(0) @binding(5) var<storage, read_write> kcache: array<u32>;
@group(0) @binding(6) var<storage, read_write> vcache: array<u32>;

var<workgroup> row: array<f32, UNIT>;  // the unit of the row being moved, decoded

// Element i of the unit's keys, rotated by -distance within its head: (x0, x1) → (x0 c + x1 s, x1 c - x0 s).
fn unrotated(i: u32, distance: u32) -> f32 {
  let h0 = (i / P.head_dim) * P.head_dim;
  let d = i - h0;
  if (d >= 2u * P.rope_pairs) { return row[i]; }
  let halves = P.halves == 1u;
  let first = select((d & 1u) == 0u, d < P.rope_pairs, halves);
  let pair = select(d / 2u, select(d - P.rope_pairs, d, first), halves);
  let a = h0 + select(2u * pair, pair, halves);
  let b = h0 + select(2u * pair + 1u, pair + P.rope_pairs, halves);
  let cs = rotation[distance * P.rope_pairs + pair];
  let x0 = row[a];
  let x1 = row[b];
  return select(x1 * cs.x - x0 * cs.y, x0 * cs.x + x1 * cs.y, first);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let keep = kv_shift[0];
  let gap = kv_shift[1];  // the rows dropped (`discard` is a WGSL keyword)
  let end = kv_shift[2];
  let units = P.kv_dim / UNIT;
  let key = wid.x < units;
  let unit = select(wid.x - units, wid.x, key) * UNIT;
  for (var r = keep + wid.y; r + gap < end; r += groups.y) {
    let dst = r * P.kv_dim + unit;
    let src = dst + gap * P.kv_dim;
    workgroupBarrier();
    if (key) {
      for (var i = tid; i < UNIT; i += WG) { row[i] = kcache_load(src + i); }
    } else {
      for (var i = tid; i < UNIT; i += WG) { row[i] = vcache_load(src + i); }
    }
    workgroupBarrier();
    if (key) {
      for (var g = tid * kcache_group; g < UNIT; g += WG * kcache_group) {
        var v: array<f32, kcache_group>;
        for (var j = 0u; j < kcache_group; j++) { v[j] = unrotated(g + j, gap); }
        kcache_store(dst + g, v);
      }
    } else {
      for (var g = tid * vcache_group; g < UNIT; g += WG * vcache_group) {
        var v: array<f32, vcache_group>;
        for (var j = 0u; j < vcache_group; j++) { v[j] = row[g + j]; }
        vcache_store(dst + g, v);
      }
    }
  }
}
