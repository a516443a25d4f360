// Q6_K for matvec.wgsl: unit u is elements 32i..32i+31 of half h of super-block u / 8 (u % 8 = 4h + i;
// dequant_q6_k.wgsl has the layout): low bits from 32 bytes of ql (nibble i / 2), high bits from the half's
// 32 bytes of qh (bits 2i), joined into unsigned 6-bit bytes; one scale for elements 0..15 and one for
// 16..31, and each half's offset of 32 comes off through the half's sum of x.
fn $W_unit(row_byte: u32, u: u32) -> Unit {
  let block = row_byte + 210u * (u >> 3u);
  let h = (u >> 2u) & 1u;
  let i = u & 3u;
  let ql = block + 64u * h + 32u * (i & 1u);
  let qh = block + 128u + 32u * h;
  let lshift = 4u * (i >> 1u);
  let hshift = 2u * i;
  let l0 = $W_words4(ql);
  let l1 = $W_words4(ql + 16u);
  let h0 = $W_words4(qh);
  let h1 = $W_words4(qh + 16u);
  var q: array<u32, 8>;
  for (var k = 0u; k < 4u; k++) {
    q[k] = ((l0[k] >> lshift) & 0x0f0f0f0fu) | (((h0[k] >> hshift) & 0x03030303u) << 4u);
    q[k + 4u] = ((l1[k] >> lshift) & 0x0f0f0f0fu) | (((h1[k] >> hshift) & 0x03030303u) << 4u);
  }
  let sc = bitcast<i32>($W_u16(block + 192u + 8u * h + 2u * i));  // two signed bytes
  let scale = $W_half(block + 208u) * vec2<f32>(f32(extractBits(sc, 0u, 8u)), f32(extractBits(sc, 8u, 8u)));
  return Unit(q, scale, 32.0 * scale);
}
