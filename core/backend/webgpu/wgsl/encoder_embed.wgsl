// The input embedding of an embedding pass: x[t] = row step_token(t) of the token embedding, + with TYPES (an
// encoder, before its LayerNorm) row 0 of the token types (every input is "sentence A"), + with POSITIONS
// (bert) row seq_position(t) of the learned positions, each decoded from its own type. A token embedding split over several bindings is looked up by
// one dispatch per part; each writes the tokens within its rows [row_first, row_first + rows).
// Grid: (ceil(dim / 8 / WG), 1, tokens).
struct Params {
  tok_row_bytes: u32,
  pos_row_bytes: u32,
  dim: u32,
  row_first: u32,
  rows: u32,
}

const WG: u32 = $WGu;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> step: array<u32>;
@group(0) @binding(2) var<storage, read> seqs: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> w0: array<u32>;  // token embedding
//#if TYPES
@group(0) @binding(5) var<storage, read> w1: array<u32>;  // token types (row 0)
//#endif
//#if POSITIONS
@group(0) @binding(6) var<storage, read> w2: array<u32>;  // learned positions
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.z;
  if (t >= step_n_tokens()) { return; }
  let token = step_token(t);
  if (token < P.row_first || token >= P.row_first + P.rows) { return; }
  let g = wid.x * WG + tid;
  if (g >= P.dim / 8u) { return; }
  let e = w0_group8((token - P.row_first) * P.tok_row_bytes, g);
  var a = e.a;
  var b = e.b;
//#if TYPES
  let ty = w1_group8(0u, g);
  a += ty.a;
  b += ty.b;
//#endif
//#if POSITIONS
  let p = w2_group8(seq_position(t) * P.pos_row_bytes, g);
  a += p.a;
  b += p.b;
//#endif
  let o = t * (P.dim / 4u) + 2u * g;
  y[o] = a;
  y[o + 1u] = b;
}
