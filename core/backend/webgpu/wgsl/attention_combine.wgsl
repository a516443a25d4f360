// Merges the $Su partial results of attention_split for each head: out = sum_s e^(m_s - M) acc_s /
// sum_s e^(m_s - M) l_s with M the largest m_s. Empty slices have m = -1e30 and weigh nothing.
// The slices' weights e^(m_s - M) are computed once, one slice per thread, into workgroup memory; then
// each thread's output loads its S partial values at once (no loop waits on exp).
// Grid: (n_heads, ceil(HD / WG), tokens); workgroup (h, j, t) writes outputs [j * WG, (j + 1) * WG) of
// token t's head h.
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

var<workgroup> m: array<f32, S>;       // each slice's running max, then its weight e^(m_s - M)
var<workgroup> l: array<f32, S>;       // each slice's sum of exp

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let base = (t * P.n_heads + h) * S * (HD + 2u);
  for (var s = tid; s < S; s += WG) {
    m[s] = part[base + s * (HD + 2u)];
    l[s] = part[base + s * (HD + 2u) + 1u];
  }
  workgroupBarrier();
  var mx = -3.0e38;
  for (var s = 0u; s < S; s++) { mx = max(mx, m[s]); }
  workgroupBarrier();
  for (var s = tid; s < S; s += WG) { m[s] = exp(m[s] - mx); }
  workgroupBarrier();
  var total = 0.0;
  for (var s = 0u; s < S; s++) { total += m[s] * l[s]; }
  let o = wid.y * WG + tid;
  if (o < HD) {
    var a = 0.0;
    for (var s = 0u; s < S; s++) { a += m[s] * part[base + s * (HD + 2u) + 2u + o]; }
    out[t * P.out_stride + h * HD + o] = a / total;
  }
}
