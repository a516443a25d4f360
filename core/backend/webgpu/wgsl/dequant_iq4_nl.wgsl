// IQ4_NL: blocks of 18 bytes {f16 d; u8 qs[16]}, x = d * grid[index], 4-bit indices placed as Q4_0's nibbles.
// Blocks are only 2-byte aligned. Group g%4 = k covers elements 8k..8k+7: bytes qs[8(k&1)..], nibble k>>1.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 18u * (g >> 2u);
  let d = $W_half(block);
  let k = g & 3u;
  let q = block + 2u + 8u * (k & 1u);
  let shift = 4u * (k >> 1u);
  return Group8(d * iq4_grid4($W_u32(q), shift), d * iq4_grid4($W_u32(q + 4u), shift));
}
