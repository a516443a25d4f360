// Q5_1: blocks of 24 bytes {f16 d; f16 m; u8 qh[4]; u8 qs[16]}, x = d * q + m with the bits of Q5_0. Word
// aligned. Group g%4 = k covers elements 8k..8k+7.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 24u * (g >> 2u);
  let dm = unpack2x16float($W[block >> 2u]);  // d, m
  let k = g & 3u;
  let high = fifth_bits8($W[(block + 4u) >> 2u] >> (8u * k));
  let q = (block + 8u + 8u * (k & 1u)) >> 2u;
  let shift = 4u * (k >> 1u);
  return Group8(dm.x * (nibbles4($W[q], shift, 0.0) + high.a) + vec4<f32>(dm.y),
                dm.x * (nibbles4($W[q + 1u], shift, 0.0) + high.b) + vec4<f32>(dm.y));
}
