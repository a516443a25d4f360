// The parameters, bindings and gate of the matrix-product kernels (matmul, matvec, matmul_tiled): one
// layout, so the planner fills one parameter block whichever kernel it picks.
struct Params {
  rows: u32,        // output rows of this dispatch
  cols: u32,
  rows0: u32,       // MULTI: rows of w0 and w1 (w2 has the rest)
  rows1: u32,
  row_bytes0: u32,
  row_bytes1: u32,
  row_bytes2: u32,
  x_stride: u32,    // floats between tokens in x (multiple of 4)
  y_stride: u32,    // floats between tokens in y
  y_offset: u32,    // column of y receiving row 0 of this dispatch
  grid_x: u32,
  last_only: u32,   // 1: only the step's last token (logits), written as y row 0
  eps: f32,
  inv_cols: f32,
  soft_cap: f32,
}

//#if GELU
fn gate(v: f32) -> f32 { return gelu_tanh(v); }
//#else
fn gate(v: f32) -> f32 { return silu(v); }
//#endif

// An output of the row kernels (matmul, matvec) from its reduced product v (and up's, GATED): times the
// token's RMSNorm factor (NORM), gated, soft-capped (SOFTCAP), written to y[yi] or added to it (RESIDUAL).
fn store_output(product: f32, up_product: f32, norm_scale: f32, yi: u32) {
  var v = product;
//#if NORM
  v *= norm_scale;
//#endif
//#if GATED
  var up = up_product;
//#if NORM
  up *= norm_scale;
//#endif
  v = gate(v) * up;
//#endif
//#if SOFTCAP
  v = soft_cap(v, P.soft_cap);
//#endif
//#if RESIDUAL
  y[yi] += v;
//#else
  y[yi] = v;
//#endif
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
//#if TOKENS
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;  // x rounded by quantize_x.wgsl (matvec.wgsl)
//#else
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
//#endif
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> w0: array<u32>;
//#if GATED|MULTI
@group(0) @binding(5) var<storage, read> w1: array<u32>;
//#endif
//#if MULTI
@group(0) @binding(6) var<storage, read> w2: array<u32>;
//#endif
//#if NORM
//#ifnot TOKENS
@group(0) @binding(7) var<storage, read> gnorm: array<vec4<f32>>;
//#endif
//#endif
