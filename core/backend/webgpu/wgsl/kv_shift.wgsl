// A context shift in one layer (core/backend/backend.h, KvShift): the key and value rows of positions
// [keep + discard, end) move down by discard, and the keys are rotated by -discard (RoPE), so that they
// read as computed at their new positions. The core plans discard >= the rows moved, so no row is written
// where a row still to be read lies. Grid: (2 * n_kv_heads: key heads, then value heads; row slices),
// rows strided over the y workgroups.
struct Params {
  n_kv_heads: u32,
  head_dim: u32,
  rope_pairs: u32,  // rope_dims / 2
  halves: u32,      // 1: pairs (i, i + rope_pairs) (neox); 0: (2i, 2i + 1); dims past the pairs stay
  kv_dim: u32,
}

const WG: u32 = $WGu;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> kv_shift: array<u32>;        // [keep, discard, end, 0], written per shift
@group(0) @binding(4) var<storage, read> rotation: array<vec2<f32>>;  // [distance][pair] (cos, sin), no attn_factor
@group(0) @binding(5) var<storage, read_write> kcache: array<f32>;
@group(0) @binding(6) var<storage, read_write> vcache: array<f32>;

// Element i of the key head at `src`, rotated by -distance: (x0, x1) → (x0 c + x1 s, x1 c - x0 s).
fn unrotated(src: u32, i: u32, distance: u32) -> f32 {
  if (i >= 2u * P.rope_pairs) { return kcache[src + i]; }
  let halves = P.halves == 1u;
  let first = select((i & 1u) == 0u, i < P.rope_pairs, halves);
  let pair = select(i / 2u, select(i - P.rope_pairs, i, first), halves);
  let a = select(2u * pair, pair, halves);
  let b = select(2u * pair + 1u, pair + P.rope_pairs, halves);
  let cs = rotation[distance * P.rope_pairs + pair];
  let x0 = kcache[src + a];
  let x1 = kcache[src + b];
  return select(x1 * cs.x - x0 * cs.y, x0 * cs.x + x1 * cs.y, first);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let keep = kv_shift[0];
  let gap = kv_shift[1];  // the rows dropped (`discard` is a WGSL keyword)
  let end = kv_shift[2];
  let hd = P.head_dim;
  let key = wid.x < P.n_kv_heads;
  let head = select(wid.x - P.n_kv_heads, wid.x, key);
  for (var r = keep + wid.y; r + gap < end; r += groups.y) {
    let dst = r * P.kv_dim + head * hd;
    let src = dst + gap * P.kv_dim;
    for (var i = tid; i < hd; i += WG) {
      if (key) {
        kcache[dst + i] = unrotated(src, i, gap);
      } else {
        vcache[dst + i] = vcache[src + i];
      }
    }
  }
}
