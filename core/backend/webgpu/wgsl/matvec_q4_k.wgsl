// Q4_K for matvec.wgsl: unit u is sub-block u % 8 of super-block u / 8 (dequant_q4_k.wgsl has the layout):
// sum (d * sc * q - dmin * m) * x = d * sc * sum q * x - dmin * m * sum x. Its 32 quants are the low (even
// sub-block) or high nibbles of 8 aligned words, which the neighbouring unit reads too.
fn $W_unit(row_byte: u32, u: u32) -> Unit {
  let block = row_byte + 144u * (u >> 3u);
  let s = u & 7u;
  let dd = unpack2x16float($W[block >> 2u]);  // d, dmin
  let sm = $W_k4_scale_min(block, s);
  let w = (block + 16u + 32u * (s >> 1u)) >> 2u;
  let shift = 4u * (s & 1u);
  var q: array<u32, 8>;
  for (var k = 0u; k < 8u; k++) { q[k] = ($W[w + k] >> shift) & 0x0f0f0f0fu; }
  return Unit(q, vec2<f32>(dd.x * sm.x), vec2<f32>(dd.y * sm.y));
}
