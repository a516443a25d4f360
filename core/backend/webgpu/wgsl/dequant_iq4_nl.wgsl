// IQ4_NL: blocks of 18 bytes {f16 d; u8 qs[16]}, x = d * grid[index], 4-bit indices placed as Q4_0's nibbles.
// Blocks are only 2-byte aligned. Group g%4 = k covers elements 8k..8k+7: bytes qs[8(k&1)..], nibble k>>1.
fn $W_u32(byte: u32) -> u32 {
  let i = byte >> 2u;
  let s = (byte & 3u) * 8u;
  if (s == 0u) { return $W[i]; }
  return ($W[i] >> s) | ($W[i + 1u] << (32u - s));
}

fn $W_half(byte: u32) -> f32 {  // byte is even
  return unpack2x16float($W[byte >> 2u] >> ((byte & 2u) * 8u)).x;
}

fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 18u * (g >> 2u);
  let d = $W_half(block);
  let k = g & 3u;
  let q = block + 2u + 8u * (k & 1u);
  let shift = 4u * (k >> 1u);
  return Group8(d * iq4_grid4($W_u32(q), shift), d * iq4_grid4($W_u32(q + 4u), shift));
}
