// Q5_K for matvec.wgsl: unit u is sub-block s = u % 8 of super-block u / 8 (dequant_q5_k.wgsl has the layout):
// Q4_K's sum plus the fifth bits, bit s of the 32 bytes of qh, which every sub-block of the block reads.
fn $W_dot32(row_byte: u32, u: u32, x: array<vec4<f32>, 8>, xsum: f32) -> f32 {
  let block = row_byte + 176u * (u >> 3u);
  let s = u & 7u;
  let dd = unpack2x16float($W[block >> 2u]);  // d, dmin
  let sm = $W_k4_scale_min(block, s);
  let q = (block + 48u + 32u * (s >> 1u)) >> 2u;
  let h = (block + 16u) >> 2u;
  let shift = 4u * (s & 1u);
  var acc = 0.0;
  for (var k = 0u; k < 8u; k++) {
    acc += dot(nibbles4($W[q + k], shift, 0.0) + 16.0 * nibbles4(($W[h + k] >> s) & 0x01010101u, 0u, 0.0), x[k]);
  }
  return dd.x * sm.x * acc - dd.y * sm.y * xsum;
}

//#if DOT8
// The same over x as 8-bit integers (matvec.wgsl's DOT8), in units of x's scale: the fifth bit joins each
// byte's nibble, so a byte holds the whole 5-bit quant.
fn $W_dot32i8(row_byte: u32, u: u32, xq: array<u32, 8>, xqsum: i32) -> f32 {
  let block = row_byte + 176u * (u >> 3u);
  let s = u & 7u;
  let dd = unpack2x16float($W[block >> 2u]);  // d, dmin
  let sm = $W_k4_scale_min(block, s);
  let q = (block + 48u + 32u * (s >> 1u)) >> 2u;
  let h = (block + 16u) >> 2u;
  let shift = 4u * (s & 1u);
  var acc = 0;
  for (var k = 0u; k < 8u; k++) {
    let q5 = (($W[q + k] >> shift) & 0x0f0f0f0fu) | ((($W[h + k] >> s) & 0x01010101u) << 4u);
    acc += dot4I8Packed(q5, xq[k]);
  }
  return dd.x * sm.x * f32(acc) - dd.y * sm.y * f32(xqsum);
}
//#endif
