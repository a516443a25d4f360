// Q4_0 for matvec.wgsl: unit u is block u (18 bytes {f16 d; u8 qs[16]}); word k of qs holds elements 4k..4k+3
// in its low nibbles and 16 + 4k.. in its high ones; sum d * (q - 8) * x = d * (sum q * x) - 8d * (sum x).
fn $W_unit(row_byte: u32, u: u32) -> Unit {
  let block = row_byte + 18u * u;
  let w = $W_words4(block + 2u);
  let d = $W_half(block);
  var q: array<u32, 8>;
  for (var k = 0u; k < 4u; k++) {
    q[k] = w[k] & 0x0f0f0f0fu;
    q[k + 4u] = (w[k] >> 4u) & 0x0f0f0f0fu;
  }
  return Unit(q, vec2<f32>(d), vec2<f32>(8.0 * d));
}
