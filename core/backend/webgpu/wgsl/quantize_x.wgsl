// x rounded to 8-bit integers once per product (x_quant.wgsl), for the several-token products that read it
// (matvec.wgsl TOKENS: each of their workgroups would otherwise load and round every token's x again):
// under NORM times the norm's weights, with each token's RMSNorm factor. One workgroup per token.
// Token t's row in xq starts at word t * xq_stride: unit u at word 12u (8 words of integers, d, the sums of
// each half, 0), then at word 12 * units the factor (1 without NORM).
struct Params {
  cols: u32,
  x_stride: u32,   // floats between tokens in x
  xq_stride: u32,  // words between tokens in xq (a multiple of 4)
  eps: f32,
  inv_cols: f32,
}
const WG: u32 = $WGu;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> xq: array<u32>;
//#if NORM
@group(0) @binding(7) var<storage, read> gnorm: array<vec4<f32>>;
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let units = P.cols / 32u;
  let xbase = t * (P.x_stride / 4u);
  let out = t * P.xq_stride;
  var squares = 0.0;
  for (var u = tid; u < units; u += WG) {
    let l = load_unit(xbase, u);
    squares += l.squares;
    let q = quantize_unit(l.v);
    for (var i = 0u; i < 8u; i++) { xq[out + 12u * u + i] = q.q[i]; }
    xq[out + 12u * u + 8u] = bitcast<u32>(q.d);
    xq[out + 12u * u + 9u] = bitcast<u32>(q.sums.x);
    xq[out + 12u * u + 10u] = bitcast<u32>(q.sums.y);
    xq[out + 12u * u + 11u] = 0u;
  }
  let total = workgroup_sum(squares, tid);
  if (tid == 0u) {
//#if NORM
    xq[out + 12u * units] = bitcast<u32>(inverseSqrt(total * P.inv_cols + P.eps));
//#else
    xq[out + 12u * units] = bitcast<u32>(1.0);
//#endif
  }
}
