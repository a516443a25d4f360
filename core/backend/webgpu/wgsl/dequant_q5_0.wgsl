// Q5_0: blocks of 22 bytes {f16 d; u8 qh[4]; u8 qs[16]}, x = d * (q - 16): the low 4 bits as in Q4_0, bit 4 of
// element j is bit j of the little-endian word qh. Blocks are only 2-byte aligned. Group g%4 = k covers
// elements 8k..8k+7: bytes qs[8(k&1)..], nibble k>>1, fifth bits 8k..8k+7 of qh.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 22u * (g >> 2u);
  let d = $W_half(block);
  let k = g & 3u;
  let high = fifth_bits8($W_u32(block + 2u) >> (8u * k));
  let q = block + 6u + 8u * (k & 1u);
  let shift = 4u * (k >> 1u);
  return Group8(d * (nibbles4($W_u32(q), shift, 16.0) + high.a), d * (nibbles4($W_u32(q + 4u), shift, 16.0) + high.b));
}
