// The activation of a feed-forward block without a gate (bert): y = gelu_tanh(y + b) (GELU) or silu(y + b),
// b with BIAS. Grid: (ceil(cols / WG), 1, tokens).
struct Params {
  cols: u32,
}

const WG: u32 = $WGu;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
//#if BIAS
@group(0) @binding(4) var<storage, read> b: array<f32>;
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  let i = wid.x * WG + tid;
  if (t >= step_n_tokens() || i >= P.cols) { return; }
  var v = y[t * P.cols + i];
//#if BIAS
  v += b[i];
//#endif
//#if GELU
  y[t * P.cols + i] = gelu_tanh(v);
//#else
  y[t * P.cols + i] = silu(v);
//#endif
}
