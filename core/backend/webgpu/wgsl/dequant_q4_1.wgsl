// Q4_1: blocks of 20 bytes {f16 d; f16 m; u8 qs[16]}, x = d * q + m, nibbles as in Q4_0. 20 is a multiple of
// 4, so every field is word aligned. Group g%4 = k covers elements 8k..8k+7: bytes qs[8(k&1)..], nibble k>>1.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 20u * (g >> 2u);
  let dm = unpack2x16float($W[block >> 2u]);  // d, m
  let k = g & 3u;
  let q = (block + 4u + 8u * (k & 1u)) >> 2u;
  let shift = 4u * (k >> 1u);
  return Group8(dm.x * nibbles4($W[q], shift, 0.0) + vec4<f32>(dm.y),
                dm.x * nibbles4($W[q + 1u], shift, 0.0) + vec4<f32>(dm.y));
}
