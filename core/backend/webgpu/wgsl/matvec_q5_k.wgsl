// Q5_K for matvec.wgsl: unit u is sub-block s = u % 8 of super-block u / 8 (dequant_q5_k.wgsl has the layout):
// Q4_K's nibbles with their fifth bits, bit s of the 32 bytes of qh (which every sub-block of the block
// reads), joined into whole bytes.
fn $W_unit(row_byte: u32, u: u32) -> Unit {
  let block = row_byte + 176u * (u >> 3u);
  let s = u & 7u;
  let dd = unpack2x16float($W[block >> 2u]);  // d, dmin
  let sm = $W_k4_scale_min(block, s);
  let w = (block + 48u + 32u * (s >> 1u)) >> 2u;
  let h = (block + 16u) >> 2u;
  let shift = 4u * (s & 1u);
  var q: array<u32, 8>;
  for (var k = 0u; k < 8u; k++) { q[k] = (($W[w + k] >> shift) & 0x0f0f0f0fu) | ((($W[h + k] >> s) & 0x01010101u) << 4u); }
  return Unit(q, vec2<f32>(dd.x * sm.x), vec2<f32>(dd.y * sm.y));
}

// Units 2p and 2p + 1 (sub-blocks 2c, 2c + 1 of super-block p / 4, c = p % 4): Q4_K's pair from one read of
// their 8 words of nibbles and of the scale words, with bits 2c and 2c + 1 of the 8 words of qh.
fn $W_pair(row_byte: u32, p: u32) -> UnitPair {
  let block = (row_byte >> 2u) + 44u * (p >> 2u);
  let c = p & 3u;
  var pair = $W_k4_pair(block, c, block + 12u + 8u * c);
  for (var k = 0u; k < 8u; k++) {
    let h = $W[block + 4u + k] >> (2u * c);
    pair.a.q[k] |= (h & 0x01010101u) << 4u;
    pair.b.q[k] |= ((h >> 1u) & 0x01010101u) << 4u;
  }
  return pair;
}
