// Q4_K for matvec.wgsl: unit u is sub-block u % 8 of super-block u / 8 (dequant_q4_k.wgsl has the layout):
// sum (d * sc * q - dmin * m) * x = d * sc * sum q * x - dmin * m * sum x. Its 32 quants are the low (even
// sub-block) or high nibbles of 8 aligned words, which the neighbouring unit reads too.
fn $W_dot32(row_byte: u32, u: u32, x: array<vec4<f32>, 8>, xsum: f32) -> f32 {
  let block = row_byte + 144u * (u >> 3u);
  let s = u & 7u;
  let dd = unpack2x16float($W[block >> 2u]);  // d, dmin
  let sm = $W_k4_scale_min(block, s);
  let q = (block + 16u + 32u * (s >> 1u)) >> 2u;
  let shift = 4u * (s & 1u);
  var acc = 0.0;
  for (var k = 0u; k < 8u; k++) { acc += dot(nibbles4($W[q + k], shift, 0.0), x[k]); }
  return dd.x * sm.x * acc - dd.y * sm.y * xsum;
}

//#if DOT8
// The same over x as 8-bit integers (matvec.wgsl's DOT8), in units of x's scale.
fn $W_dot32i8(row_byte: u32, u: u32, xq: array<u32, 8>, xqsum: i32) -> f32 {
  let block = row_byte + 144u * (u >> 3u);
  let s = u & 7u;
  let dd = unpack2x16float($W[block >> 2u]);  // d, dmin
  let sm = $W_k4_scale_min(block, s);
  let q = (block + 16u + 32u * (s >> 1u)) >> 2u;
  let shift = 4u * (s & 1u);
  var acc = 0;
  for (var k = 0u; k < 8u; k++) { acc += dot4I8Packed(($W[q + k] >> shift) & 0x0f0f0f0fu, xq[k]); }
  return dd.x * sm.x * f32(acc) - dd.y * sm.y * f32(xqsum);
}
//#endif
