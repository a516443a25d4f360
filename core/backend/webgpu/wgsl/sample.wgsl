// Greedy / top-k selection on the GPU: the k best logits in order (value descending, index ascending on
// ties), as (index, f32 bits) pairs in `result`. Round r finds the best element ranked after the one round
// r - 1 found, so k rounds give an exact ordered top-k without sorting. k = 1 is argmax.
// MASK: only tokens whose bit is set in `mask` (bit i % 32 of word i / 32) compete — structured output;
// a disallowed token's logit is not even read.
// PER_TOKEN: one workgroup per token of the step, over its row of `logits` (n values from row * n), writing its
// pairs from result[2 * k * row] (the verify list: speculative decoding's argmax per position).
// Grid: (1, 1, 1); PER_TOKEN: (1, 1, n_tokens).
struct Params {
  n: u32,
  k: u32,
}

const WG: u32 = 256u;
const LOWEST: f32 = -3.402823e38;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> result: array<u32>;
//#if MASK
@group(0) @binding(4) var<storage, read> mask: array<u32>;
//#endif

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

fn allowed(i: u32) -> bool {
//#if MASK
  return ((mask[i >> 5u] >> (i & 31u)) & 1u) != 0u;
//#else
  return true;
//#endif
}

fn ranks_before(v: f32, i: u32, w: f32, j: u32) -> bool {
  return v > w || (v == w && i < j);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
//#if PER_TOKEN
  let base = wid.z * P.n;
  let first = 2u * P.k * wid.z;
//#else
  let base = 0u;
  let first = 0u;
//#endif
  var prev_v = 0.0;
  var prev_i = 0xffffffffu;
  for (var r = 0u; r < P.k; r++) {
    var bv = LOWEST;
    var bi = 0xffffffffu;
    for (var i = tid; i < P.n; i += WG) {
      if (!allowed(i)) { continue; }
      let v = logits[base + i];
      let eligible = r == 0u || ranks_before(prev_v, prev_i, v, i);
      if (eligible && ranks_before(v, i, bv, bi)) {
        bv = v;
        bi = i;
      }
    }
    best_v[tid] = bv;
    best_i[tid] = bi;
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      workgroupBarrier();
      if (tid < s && ranks_before(best_v[tid + s], best_i[tid + s], best_v[tid], best_i[tid])) {
        best_v[tid] = best_v[tid + s];
        best_i[tid] = best_i[tid + s];
      }
    }
    workgroupBarrier();
    prev_v = best_v[0];
    prev_i = best_i[0];
    if (tid == 0u) {
      result[first + 2u * r] = prev_i;
      result[first + 2u * r + 1u] = bitcast<u32>(prev_v);
    }
    workgroupBarrier();
  }
}
