// Q6_K: super-blocks of 210 bytes {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d} holding 256 values in 16
// sub-blocks of 16: x = d * scales[s] * (q - 32), q in [0, 63]. Half h (128 values) uses ql[64h..] and
// qh[32h..]; element 128h + 32i + l takes its low 4 bits from ql[64h + l + 32(i&1)] (nibble i>>1) and its
// high 2 bits from (qh[32h + l] >> 2i) & 3. Blocks are only 2-byte aligned.
// Two bits at `shift` of each byte of `word`, times 16.
fn $W_top4(word: u32, shift: u32) -> vec4<f32> {
  let b = (word >> shift) & 0x03030303u;
  return 16.0 * vec4<f32>(f32(b & 3u), f32((b >> 8u) & 3u), f32((b >> 16u) & 3u), f32(b >> 24u));
}

fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 210u * (g >> 5u);
  let e = (g & 31u) * 8u;
  let h = e >> 7u;
  let r = e & 127u;
  let i = r >> 5u;
  let l = r & 31u;
  let d = unpack2x16float($W[(block + 208u) >> 2u] >> (((block + 208u) & 2u) * 8u)).x;
  let sc_byte = block + 192u + 8u * h + 2u * i + (l >> 4u);
  let scale = d * f32(extractBits(bitcast<i32>($W[sc_byte >> 2u]), (sc_byte & 3u) * 8u, 8u));
  let ql = block + 64u * h + l + 32u * (i & 1u);
  let qh = block + 128u + 32u * h + l;
  let lshift = 4u * (i >> 1u);
  let hshift = 2u * i;
  return Group8(scale * (nibbles4($W_u32(ql), lshift, 32.0) + $W_top4($W_u32(qh), hshift)),
                scale * (nibbles4($W_u32(ql + 4u), lshift, 32.0) + $W_top4($W_u32(qh + 4u), hshift)));
}
