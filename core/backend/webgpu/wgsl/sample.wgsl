// Greedy / top-k selection on the GPU: the k best logits in order (value descending, index ascending on
// ties), as (index, f32 bits) pairs. Round r finds the best candidate ranked after the one round r - 1
// found, so k rounds give an exact ordered top-k without sorting. k = 1 is argmax.
// Two dispatches, so that the whole GPU reads the logits (one workgroup alone took ~0.2 ms over a 128K
// vocabulary): each workgroup of the first takes the top-k of its `chunk` logits into `out` (k pairs at
// k * (row * groups + workgroup)); MERGE (one workgroup per row) takes the top-k of those groups * k
// pairs into `out` (k pairs at k * row). The union of every chunk's top-k holds the row's top-k, so the
// result is exact.
// MASK: only tokens whose bit is set in `mask` (bit i % 32 of word i / 32) compete — structured output;
// a disallowed token's logit is not even read.
// Rows: workgroup_id.z is the row (the verify list: one logits row of n values per token).
// Grid: (groups, 1, rows); MERGE: (1, 1, rows).
struct Params {
  n: u32,
  k: u32,
  chunk: u32,
  groups: u32,
}

const WG: u32 = 256u;
const LOWEST: f32 = -3.402823e38;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> P: Params;
//#if MERGE
@group(0) @binding(2) var<storage, read> part: array<u32>;
//#else
@group(0) @binding(2) var<storage, read> logits: array<f32>;
//#endif
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
//#if MASK
@group(0) @binding(4) var<storage, read> mask: array<u32>;
//#endif

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

fn ranks_before(v: f32, i: u32, w: f32, j: u32) -> bool {
  return v > w || (v == w && i < j);
}

// Candidate j of this workgroup's range [first, end) of its row: (value, token index), the index NONE
// when there is none (a barred token; a chunk with fewer than k allowed tokens).
struct Candidate {
  v: f32,
  i: u32,
}

fn candidate(row: u32, j: u32) -> Candidate {
//#if MERGE
  let at = 2u * (row * P.groups * P.k + j);
  return Candidate(bitcast<f32>(part[at + 1u]), part[at]);
//#else
//#if MASK
  if (((mask[j >> 5u] >> (j & 31u)) & 1u) == 0u) { return Candidate(LOWEST, NONE); }
//#endif
  return Candidate(logits[row * P.n + j], j);
//#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.z;
//#if MERGE
  let first = 0u;
  let end = P.groups * P.k;
  let dest = 2u * P.k * row;
//#else
  let first = wid.x * P.chunk;
  let end = min(first + P.chunk, P.n);
  let dest = 2u * P.k * (row * P.groups + wid.x);
//#endif
  var prev_v = 0.0;
  var prev_i = NONE;
  for (var r = 0u; r < P.k; r++) {
    var bv = LOWEST;
    var bi = NONE;
    for (var j = first + tid; j < end; j += WG) {
      let c = candidate(row, j);
      if (c.i == NONE) { continue; }
      let eligible = r == 0u || ranks_before(prev_v, prev_i, c.v, c.i);
      if (eligible && ranks_before(c.v, c.i, bv, bi)) {
        bv = c.v;
        bi = c.i;
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
      out[dest + 2u * r] = prev_i;
      out[dest + 2u * r + 1u] = bitcast<u32>(prev_v);
    }
    workgroupBarrier();
  }
}
