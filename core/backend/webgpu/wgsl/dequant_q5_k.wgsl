// Q5_K: super-blocks of 176 bytes {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: Q4_K plus a fifth
// bit, q = nibble + 16 * bit s of qh[l] for element l of sub-block s. Word aligned.
// Bit s of each byte of `word`, times 16.
fn $W_high4(word: u32, s: u32) -> vec4<f32> {
  let b = (word >> s) & 0x01010101u;
  return 16.0 * vec4<f32>(f32(b & 1u), f32((b >> 8u) & 1u), f32((b >> 16u) & 1u), f32(b >> 24u));
}

fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 176u * (g >> 5u);
  let e = (g & 31u) * 8u;
  let s = e >> 5u;
  let l = e & 31u;
  let dd = unpack2x16float($W[block >> 2u]);
  let sm = $W_k4_scale_min(block, s);
  let scale = dd.x * sm.x;
  let minv = dd.y * sm.y;
  let q = (block + 48u + 32u * (s >> 1u) + l) >> 2u;
  let h = (block + 16u + l) >> 2u;
  let shift = 4u * (s & 1u);
  return Group8(scale * (nibbles4($W[q], shift, 0.0) + $W_high4($W[h], s)) - vec4<f32>(minv),
                scale * (nibbles4($W[q + 1u], shift, 0.0) + $W_high4($W[h + 1u], s)) - vec4<f32>(minv));
}
