// Q6_K for matvec.wgsl: unit u is elements 32i..32i+31 of half h of super-block u / 8 (u % 8 = 4h + i;
// dequant_q6_k.wgsl has the layout): low bits from 32 bytes of ql (nibble i / 2), high bits from the half's
// 32 bytes of qh (bits 2i), one scale for elements 0..15 and one for 16..31.
fn $W_dot32(row_byte: u32, u: u32, x: array<vec4<f32>, 8>, xsum: f32) -> f32 {
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
  var acc0 = 0.0;
  var acc1 = 0.0;
  for (var k = 0u; k < 4u; k++) {
    acc0 += dot(nibbles4(l0[k], lshift, 32.0) + 16.0 * crumbs4(h0[k], hshift), x[k]);
    acc1 += dot(nibbles4(l1[k], lshift, 32.0) + 16.0 * crumbs4(h1[k], hshift), x[k + 4u]);
  }
  let sc = $W_u16(block + 192u + 8u * h + 2u * i);  // two signed bytes
  let d = $W_half(block + 208u);
  return d * (f32(extractBits(bitcast<i32>(sc), 0u, 8u)) * acc0 + f32(extractBits(bitcast<i32>(sc), 8u, 8u)) * acc1);
}

//#if DOT8
// The same over x as 8-bit integers (matvec.wgsl's DOT8), in units of x's scale: a byte holds the whole
// unsigned 6-bit quant, and each half's offset of 32 comes off through the half's sum of x.
fn $W_dot32i8(row_byte: u32, u: u32, xq: array<u32, 8>, xqsum: i32) -> f32 {
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
  var acc0 = 0;
  var acc1 = 0;
  var sum0 = 0;
  for (var k = 0u; k < 4u; k++) {
    acc0 += dot4I8Packed(((l0[k] >> lshift) & 0x0f0f0f0fu) | (((h0[k] >> hshift) & 0x03030303u) << 4u), xq[k]);
    acc1 += dot4I8Packed(((l1[k] >> lshift) & 0x0f0f0f0fu) | (((h1[k] >> hshift) & 0x03030303u) << 4u), xq[k + 4u]);
    sum0 += dot4I8Packed(xq[k], 0x01010101u);
  }
  let sc = $W_u16(block + 192u + 8u * h + 2u * i);  // two signed bytes
  let d = $W_half(block + 208u);
  return d * (f32(extractBits(bitcast<i32>(sc), 0u, 8u) * (acc0 - 32 * sum0)) +
              f32(extractBits(bitcast<i32>(sc), 8u, 8u) * (acc1 - 32 * (xqsum - sum0))));
}
//#endif
