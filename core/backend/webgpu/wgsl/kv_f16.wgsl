// KV cache of f16 (composed once per cache binding, `$C` renamed to kcache / vcache, an array<u32>):
// element e of a layer's cache (e = position * kv_dim + i) is half e % 2 (low first) of word e / 2, the
// bytes of the CPU's f16 rows.

const $C_group: u32 = 2u;  // elements $C_store writes together: one word

fn $C_load(e: u32) -> f32 {
  return unpack2x16float($C[e >> 1u])[e & 1u];
}

// Elements e .. e + 3 (e a multiple of 4).
fn $C_load4(e: u32) -> vec4<f32> {
  let w = e >> 1u;
  return vec4<f32>(unpack2x16float($C[w]), unpack2x16float($C[w + 1u]));
}

// A group's word, rounded as the CPU rounds.
fn $C_word(v: array<f32, $C_group>) -> u32 {
  return f16_bits(v[0]) | (f16_bits(v[1]) << 16u);
}

// A group as $C_load reads it back after $C_store.
fn $C_round(v: array<f32, $C_group>) -> array<f32, $C_group> {
  let r = unpack2x16float($C_word(v));
  return array<f32, $C_group>(r.x, r.y);
}

//#if STORE
// Elements e, e + 1 (e even).
fn $C_store(e: u32, v: array<f32, $C_group>) {
  $C[e >> 1u] = $C_word(v);
}
//#endif
