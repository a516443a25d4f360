// Each input's embedding: its tokens' final hidden states pooled (1 mean, 2 the first token (CLS), 3 the last;
// ops::pool), then scaled to unit length (ops::l2_normalize; a zero vector stays zero). One workgroup per
// input; workgroups past the call's inputs return. Grid: (1, 1, tokens).
struct Params {
  dim: u32,
  pooling: u32,
}

const WG: u32 = $WGu;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> seqs: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> pooled: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let input = wid.z;
  if (input >= seq_inputs()) { return; }
  let first = input_first(input);
  let n = input_first(input + 1u) - first;
  var ss = 0.0;
  for (var d = tid; d < P.dim; d += WG) {
    var v = 0.0;
    if (P.pooling == 1u) {
      for (var t = 0u; t < n; t++) { v += x[(first + t) * P.dim + d]; }
      v /= f32(n);
    } else if (P.pooling == 2u) {
      v = x[first * P.dim + d];
    } else {
      v = x[(first + n - 1u) * P.dim + d];
    }
    pooled[input * P.dim + d] = v;
    ss += v * v;
  }
  let total = workgroup_sum(ss, tid);
  let scale = select(0.0, inverseSqrt(total), total > 0.0);
  for (var d = tid; d < P.dim; d += WG) { pooled[input * P.dim + d] *= scale; }
}
