// Q8_0 for matvec.wgsl: unit u is block u (34 bytes {f16 d; i8 qs[32]}), its quants signed bytes as stored.
fn $W_unit(row_byte: u32, u: u32) -> Unit {
  let block = row_byte + 34u * u;
  let lo = $W_words4(block + 2u);
  let hi = $W_words4(block + 18u);
  let d = $W_half(block);
  return Unit(array<u32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w), vec2<f32>(d), vec2<f32>(0.0));
}
