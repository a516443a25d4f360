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

// Units 2p and 2p + 1 (sub-blocks 2c, 2c + 1 of super-block p / 4, c = p % 4): one read of their 8 words,
// the low nibbles for the first and the high for the second, and of the scale words.
fn $W_pair(row_byte: u32, p: u32) -> UnitPair {
  let block = (row_byte >> 2u) + 36u * (p >> 2u);
  let c = p & 3u;
  return $W_k4_pair(block, c, block + 4u + 8u * c);
}
