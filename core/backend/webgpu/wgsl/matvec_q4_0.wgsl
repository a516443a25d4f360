// Q4_0 for matvec.wgsl: unit u is block u (18 bytes {f16 d; u8 qs[16]}); word k of qs holds elements 4k..4k+3
// in its low nibbles and 16 + 4k.. in its high ones; sum d * (q - 8) * x = d * (sum q * x - 8 * sum x).
fn $W_dot32(row_byte: u32, u: u32, x: array<vec4<f32>, 8>, xsum: f32) -> f32 {
  let block = row_byte + 18u * u;
  let q = $W_words4(block + 2u);
  var acc = 0.0;
  for (var k = 0u; k < 4u; k++) {
    acc += dot(nibbles4(q[k], 0u, 0.0), x[k]) + dot(nibbles4(q[k], 4u, 0.0), x[k + 4u]);
  }
  return $W_half(block) * (acc - 8.0 * xsum);
}

//#if DOT8
// The same over x as 8-bit integers (matvec.wgsl's DOT8), in units of x's scale: a word's low nibbles are
// 4 unsigned bytes, as dot4I8Packed takes them.
fn $W_dot32i8(row_byte: u32, u: u32, xq: array<u32, 8>, xqsum: i32) -> f32 {
  let block = row_byte + 18u * u;
  let q = $W_words4(block + 2u);
  var acc = 0;
  for (var k = 0u; k < 4u; k++) {
    acc += dot4I8Packed(q[k] & 0x0f0f0f0fu, xq[k]) + dot4I8Packed((q[k] >> 4u) & 0x0f0f0f0fu, xq[k + 4u]);
  }
  return $W_half(block) * f32(acc - 8 * xqsum);
}
//#endif
