// Q3_K: super-blocks of 110 bytes {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d} holding 256 values in 16
// sub-blocks of 16: x = d * (s - 32) * (q - 4), q in [0, 7]. The low 2 bits of q are laid out as in Q2_K
// (qs), the third is bit 4h + i of hmask[l] for element 128h + 32i + l. Sub-block j's 6-bit s has its low 4
// bits in nibble j/8 of scales[j%8] and its top 2 in bits 2(j/4).. of scales[8 + j%4]. 2-byte aligned.
// Bit `b` of each byte of `word`, times 4.
fn $W_third4(word: u32, b: u32) -> vec4<f32> {
  let v = (word >> b) & 0x01010101u;
  return 4.0 * vec4<f32>(f32(v & 1u), f32((v >> 8u) & 1u), f32((v >> 16u) & 1u), f32(v >> 24u));
}

fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 110u * (g >> 5u);
  let e = (g & 31u) * 8u;
  let h = e >> 7u;
  let i = (e >> 5u) & 3u;
  let l = e & 31u;
  let j = e >> 4u;  // sub-block
  let low = ($W_byte(block + 96u + (j & 7u)) >> (4u * (j >> 3u))) & 15u;
  let top = ($W_byte(block + 104u + (j & 3u)) >> (2u * (j >> 2u))) & 3u;
  let d = unpack2x16float($W[(block + 108u) >> 2u] >> (((block + 108u) & 2u) * 8u)).x;
  let scale = d * (f32(low | (top << 4u)) - 32.0);
  let q = block + 32u + 32u * h + l;
  let m = block + l;
  let b = 4u * h + i;
  return Group8(scale * (crumbs4($W_u32(q), 2u * i) + $W_third4($W_u32(m), b) - vec4<f32>(4.0)),
                scale * (crumbs4($W_u32(q + 4u), 2u * i) + $W_third4($W_u32(m + 4u), b) - vec4<f32>(4.0)));
}
