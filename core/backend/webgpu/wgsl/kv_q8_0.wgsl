// KV cache of q8_0 (composed once per cache binding, `$C` renamed to kcache / vcache, an array<u32>): blocks
// of 32 consecutive elements of a layer's cache (e = position * kv_dim + i; kv_dim is a multiple of 32, so a
// block lies within one row), each 9 words: the scale d as an f32 (the f16 value ggml's Q8_0 block keeps),
// then the 32 signed bytes q, four to a word, low byte first. Element = d * q, as the CPU decodes its rows.

const $C_group: u32 = 32u;  // elements $C_store writes together: one block

fn $C_load(e: u32) -> f32 {
  let b = (e >> 5u) * 9u;
  return bitcast<f32>($C[b]) * sbyte($C[b + 1u + ((e & 31u) >> 2u)], e & 3u);
}

// Elements e .. e + 3 (e a multiple of 4).
fn $C_load4(e: u32) -> vec4<f32> {
  let b = (e >> 5u) * 9u;
  let q = bitcast<i32>($C[b + 1u + ((e & 31u) >> 2u)]);
  return bitcast<f32>($C[b]) * vec4<f32>(f32(extractBits(q, 0u, 8u)), f32(extractBits(q, 8u, 8u)),
                                         f32(extractBits(q, 16u, 8u)), f32(extractBits(q, 24u, 8u)));
}

// A block's 9 words, quantized as core/quant quantize_q8_0 does: d = max |v| / 127 (kept as f16), q =
// lround(v / d) computed as v * (1 / d) with the unrounded d.
fn $C_block(v: array<f32, $C_group>) -> array<u32, 9> {
  var amax = 0.0;
  for (var j = 0u; j < 32u; j++) { amax = max(amax, abs(v[j])); }
  let d = div_rn(amax, 127.0);
  let inv = select(0.0, div_rn(1.0, d), d != 0.0);
  var words: array<u32, 9>;
  words[0] = bitcast<u32>(f16_value(f16_bits(d)));
  for (var w = 0u; w < 8u; w++) {
    var word = 0u;
    for (var k = 0u; k < 4u; k++) {
      let q = i32(round_away(v[4u * w + k] * inv));
      word |= (u32(q) & 0xffu) << (8u * k);
    }
    words[1u + w] = word;
  }
  return words;
}

// A block as $C_load reads it back after $C_store.
fn $C_round(v: array<f32, $C_group>) -> array<f32, $C_group> {
  let words = $C_block(v);
  var r: array<f32, $C_group>;
  for (var j = 0u; j < 32u; j++) { r[j] = bitcast<f32>(words[0]) * sbyte(words[1u + (j >> 2u)], j & 3u); }
  return r;
}

//#if STORE
// The block of elements e .. e + 31 (e a multiple of 32).
fn $C_store(e: u32, v: array<f32, $C_group>) {
  let words = $C_block(v);
  let b = (e >> 5u) * 9u;
  for (var w = 0u; w < 9u; w++) { $C[b + w] = words[w]; }
}
//#endif
