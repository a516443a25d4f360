// Q8_0 for matvec.wgsl: unit u is block u (34 bytes {f16 d; i8 qs[32]}).
fn $W_dot32(row_byte: u32, u: u32, x: array<vec4<f32>, 8>, xsum: f32) -> f32 {
  let block = row_byte + 34u * u;
  let lo = $W_words4(block + 2u);
  let hi = $W_words4(block + 18u);
  var acc = 0.0;
  for (var k = 0u; k < 4u; k++) {
    acc += dot(sbytes4(lo[k]), x[k]) + dot(sbytes4(hi[k]), x[k + 4u]);
  }
  return $W_half(block) * acc;
}

//#if DOT8
// The same over x as 8-bit integers (matvec.wgsl's DOT8), in units of x's scale.
fn $W_dot32i8(row_byte: u32, u: u32, xq: array<u32, 8>, xqsum: i32) -> f32 {
  let block = row_byte + 34u * u;
  let lo = $W_words4(block + 2u);
  let hi = $W_words4(block + 18u);
  var acc = 0;
  for (var k = 0u; k < 4u; k++) { acc += dot4I8Packed(lo[k], xq[k]) + dot4I8Packed(hi[k], xq[k + 4u]); }
  return $W_half(block) * f32(acc);
}
//#endif
