// Q4_K: super-blocks of 144 bytes {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} holding 256 values in 8
// sub-blocks of 32: x = d * sc[s] * q - dmin * m[s]. Sub-block s reads qs[32(s/2) ..+32], low nibbles for even
// s, high for odd. 144 is a multiple of 4, so every field is word aligned.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 144u * (g >> 5u);
  let e = (g & 31u) * 8u;          // first element within the super-block
  let s = e >> 5u;                 // sub-block
  let l = e & 31u;                 // first element within the sub-block
  let dd = unpack2x16float($W[block >> 2u]);  // d, dmin
  let sm = $W_k4_scale_min(block, s);
  let scale = dd.x * sm.x;
  let minv = dd.y * sm.y;
  let q = (block + 16u + 32u * (s >> 1u) + l) >> 2u;
  let shift = 4u * (s & 1u);
  return Group8(scale * nibbles4($W[q], shift, 0.0) - vec4<f32>(minv),
                scale * nibbles4($W[q + 1u], shift, 0.0) - vec4<f32>(minv));
}
