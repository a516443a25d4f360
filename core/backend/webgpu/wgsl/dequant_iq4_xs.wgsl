// IQ4_XS: super-blocks of 136 bytes {f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]} holding 256 values in 8
// sub-blocks of 32: x = d * (s - 32) * grid[index]. Sub-block j's 6-bit s has its low 4 bits in nibble j%2 of
// scales_l[j/2] and its top 2 in bits 2j.. of scales_h; its indices fill qs[16j..] as IQ4_NL's. Word aligned.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 136u * (g >> 5u);
  let e = (g & 31u) * 8u;
  let j = e >> 5u;
  let k = (e >> 3u) & 3u;
  let head = $W[block >> 2u];  // d, scales_h
  let low = extractBits($W[(block + 4u) >> 2u], 8u * (j >> 1u) + 4u * (j & 1u), 4u);
  let top = extractBits(head, 16u + 2u * j, 2u);
  let scale = unpack2x16float(head).x * (f32(low | (top << 4u)) - 32.0);
  let q = (block + 8u + 16u * j + 8u * (k & 1u)) >> 2u;
  let shift = 4u * (k >> 1u);
  return Group8(scale * iq4_grid4($W[q], shift), scale * iq4_grid4($W[q + 1u], shift));
}
