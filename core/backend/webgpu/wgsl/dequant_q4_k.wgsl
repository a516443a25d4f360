// Q4_K: super-blocks of 144 bytes {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} holding 256 values in 8
// sub-blocks of 32: x = d * sc[s] * q - dmin * m[s]. Sub-block s reads qs[32(s/2) ..+32], low nibbles for even
// s, high for odd. 144 is a multiple of 4, so every field is word aligned.
fn $W_byte(byte: u32) -> u32 {
  return extractBits($W[byte >> 2u], (byte & 3u) * 8u, 8u);
}

// The 6-bit scale and min of sub-block s (see blocks::unpack_k4_scales), as floats.
fn $W_k4_scale_min(block: u32, s: u32) -> vec2<f32> {
  let sc = block + 4u;
  if (s < 4u) {
    return vec2<f32>(f32($W_byte(sc + s) & 63u), f32($W_byte(sc + s + 4u) & 63u));
  }
  let hi = $W_byte(sc + s + 4u);
  return vec2<f32>(f32((hi & 15u) | (($W_byte(sc + s - 4u) >> 6u) << 4u)),
                   f32((hi >> 4u) | (($W_byte(sc + s) >> 6u) << 4u)));
}

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
