// x[t] += rmsnorm(y[t]) * g: the post-attention and post-FFN norms of Gemma 2 and 3, whose block outputs
// (wo, down) are normalized with their own weight before the residual add (ops::rmsnorm, then the add).
// One workgroup per token. Grid: (1, 1, tokens).
struct Params {
  dim: u32,
  eps: f32,
  inv_dim: f32,
}

const WG: u32 = $WGu;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let base = t * P.dim;
  var ss = 0.0;
  for (var i = tid; i < P.dim; i += WG) { ss += y[base + i] * y[base + i]; }
  red[tid] = ss;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (tid < s) { red[tid] += red[tid + s]; }
  }
  workgroupBarrier();
  let scale = inverseSqrt(red[0] * P.inv_dim + P.eps);
  for (var i = tid; i < P.dim; i += WG) { x[base + i] += y[base + i] * scale * g[i]; }
}
