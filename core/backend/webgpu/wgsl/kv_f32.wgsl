// KV cache of f32 (composed once per cache binding, `$C` renamed to kcache / vcache, an array<u32>):
// element e of a layer's cache (e = position * kv_dim + i) is word e.

const $C_group: u32 = 1u;  // elements $C_store writes together

fn $C_load(e: u32) -> f32 {
  return bitcast<f32>($C[e]);
}

// Elements e .. e + 3 (e a multiple of 4).
fn $C_load4(e: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>($C[e], $C[e + 1u], $C[e + 2u], $C[e + 3u]));
}

// A group as the cache gives it back after $C_store.
fn $C_round(v: array<f32, $C_group>) -> array<f32, $C_group> {
  return v;
}

//#if STORE
// Elements e .. e + $C_group - 1 (e a multiple of $C_group).
fn $C_store(e: u32, v: array<f32, $C_group>) {
  $C[e] = bitcast<u32>(v[0]);
}
//#endif
