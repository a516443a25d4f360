// F16 weights: IEEE halves read with unpack2x16float (no shader-f16). Rows hold a multiple of 8 values,
// so `row_byte` and every group of 8 are 16-byte aligned.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let i = (row_byte >> 2u) + 4u * g;
  return Group8(
    vec4<f32>(unpack2x16float($W[i]), unpack2x16float($W[i + 1u])),
    vec4<f32>(unpack2x16float($W[i + 2u]), unpack2x16float($W[i + 3u])));
}
