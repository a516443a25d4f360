// BF16 weights: the top 16 bits of an f32, two per word (element 2k in the low half).
fn $W_bf16x2(word: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u));
}

fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let i = (row_byte >> 2u) + 4u * g;
  return Group8(
    vec4<f32>($W_bf16x2($W[i]), $W_bf16x2($W[i + 1u])),
    vec4<f32>($W_bf16x2($W[i + 2u]), $W_bf16x2($W[i + 3u])));
}
