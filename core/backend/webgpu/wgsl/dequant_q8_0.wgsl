// Q8_0: blocks of 34 bytes {f16 d; i8 qs[32]}, x = d * q. Blocks are only 2-byte aligned, so words are
// assembled from two reads.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 34u * (g >> 2u);
  let d = $W_half(block);
  let q = block + 2u + 8u * (g & 3u);
  let lo = $W_u32(q);
  let hi = $W_u32(q + 4u);
  return Group8(
    d * vec4<f32>(sbyte(lo, 0u), sbyte(lo, 1u), sbyte(lo, 2u), sbyte(lo, 3u)),
    d * vec4<f32>(sbyte(hi, 0u), sbyte(hi, 1u), sbyte(hi, 2u), sbyte(hi, 3u)));
}
