// Merges the $Su partial results of attention_split for each head: out = sum_s e^(m_s - M) acc_s /
// sum_s e^(m_s - M) l_s with M the largest m_s. Empty slices have m = -1e30 and weigh nothing.
// Grid: (n_heads, 1, 1).
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  q_stride: u32,
  kv_dim: u32,
  out_stride: u32,
  scale: f32,
}

const WG: u32 = $WGu;
const HD: u32 = $HDu;
const S: u32 = $Su;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> part: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let base = h * S * (HD + 2u);
  var mx = -3.0e38;
  for (var s = 0u; s < S; s++) { mx = max(mx, part[base + s * (HD + 2u)]); }
  var total = 0.0;
  for (var s = 0u; s < S; s++) {
    let b = base + s * (HD + 2u);
    total += exp(part[b] - mx) * part[b + 1u];
  }
  for (var o = tid; o < HD; o += WG) {
    var a = 0.0;
    for (var s = 0u; s < S; s++) {
      let b = base + s * (HD + 2u);
      a += exp(part[b] - mx) * part[b + 2u + o];
    }
    out[h * HD + o] = a / total;
  }
}
