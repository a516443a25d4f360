// F32 weights: rows of little-endian floats. `row_byte` is 4-byte aligned.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let i = (row_byte >> 2u) + 8u * g;
  return Group8(
    vec4<f32>(bitcast<f32>($W[i]), bitcast<f32>($W[i + 1u]), bitcast<f32>($W[i + 2u]), bitcast<f32>($W[i + 3u])),
    vec4<f32>(bitcast<f32>($W[i + 4u]), bitcast<f32>($W[i + 5u]), bitcast<f32>($W[i + 6u]), bitcast<f32>($W[i + 7u])));
}
