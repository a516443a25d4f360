// x[t] = row step_token(t) of the embedding matrix (or, for a chained step, of the token in result[0]), decoded,
// times `scale` (Gemma's sqrt(dim); 1 elsewhere, which is exact). A matrix split over several bindings is
// looked up by one dispatch per part; each ignores tokens outside its rows [row_first, row_first + rows).
// Grid: (ceil(dim / 8 / WG), 1, tokens).
struct Params {
  row_bytes: u32,
  dim: u32,
  row_first: u32,
  rows: u32,
  scale: f32,
}

const WG: u32 = $WGu;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> result: array<u32>;  // (index, value) pairs of the last sampling
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> w0: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  var token = step_token(t);
  if (step_chained()) { token = result[0]; }
  if (token < P.row_first || token >= P.row_first + P.rows) { return; }
  let g = wid.x * WG + tid;
  if (g >= P.dim / 8u) { return; }
  let v = w0_group8((token - P.row_first) * P.row_bytes, g);
  let o = t * (P.dim / 4u) + 2u * g;
  y[o] = v.a * P.scale;
  y[o + 1u] = v.b * P.scale;
}
