// The norm of an embedding pass, per token: LayerNorm with its bias (ops::layernorm: the mean, then the mean
// of squared deviations from it), x[t] = LayerNorm(x[t]) * g + b, with RESIDUAL first x[t] += y[t] (+ ob,
// the BIAS of the product that wrote y): an encoder's post-norms; or with RMS, x[t] = rmsnorm(x[t]) * g
// (ops::rmsnorm): a decoder's final norm. One workgroup per token. Grid: (1, 1, tokens).
struct Params {
  dim: u32,
  eps: f32,
  inv_dim: f32,
}

const WG: u32 = $WGu;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
//#if RESIDUAL
@group(0) @binding(2) var<storage, read> y: array<f32>;
//#endif
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
//#ifnot RMS
@group(0) @binding(5) var<storage, read> b: array<f32>;
//#endif
//#if BIAS
@group(0) @binding(6) var<storage, read> ob: array<f32>;
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let base = t * P.dim;
  var sum = 0.0;
  for (var i = tid; i < P.dim; i += WG) {
    var v = x[base + i];
//#if RESIDUAL
    v += y[base + i];
//#endif
//#if BIAS
    v += ob[i];
//#endif
    x[base + i] = v;
    sum += v;
  }
//#if RMS
  var ss = 0.0;
  for (var i = tid; i < P.dim; i += WG) { ss += x[base + i] * x[base + i]; }
  let scale = inverseSqrt(workgroup_sum(ss, tid) * P.inv_dim + P.eps);
  for (var i = tid; i < P.dim; i += WG) { x[base + i] = x[base + i] * scale * g[i]; }
//#else
  let mean = workgroup_sum(sum, tid) * P.inv_dim;
  var ss = 0.0;
  for (var i = tid; i < P.dim; i += WG) {
    let d = x[base + i] - mean;
    ss += d * d;
  }
  let scale = inverseSqrt(workgroup_sum(ss, tid) * P.inv_dim + P.eps);
  for (var i = tid; i < P.dim; i += WG) { x[base + i] = (x[base + i] - mean) * scale * g[i] + b[i]; }
//#endif
}
