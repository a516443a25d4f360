// Q2_K: super-blocks of 84 bytes {u8 scales[16]; u8 qs[64]; f16 d; f16 dmin} holding 256 values in 16
// sub-blocks of 16: x = d * (sc & 15) * q - dmin * (sc >> 4), q in [0, 3]. Half h (128 values) uses
// qs[32h..]; element 128h + 32i + l is bits 2i..2i+1 of qs[32h + l]. 84 is a multiple of 4: word aligned.
fn $W_group8(row_byte: u32, g: u32) -> Group8 {
  let block = row_byte + 84u * (g >> 5u);
  let e = (g & 31u) * 8u;
  let h = e >> 7u;
  let i = (e >> 5u) & 3u;
  let l = e & 31u;
  let dd = unpack2x16float($W[(block + 80u) >> 2u]);  // d, dmin
  let sc = extractBits($W[(block + (e >> 4u)) >> 2u], ((e >> 4u) & 3u) * 8u, 8u);
  let scale = dd.x * f32(sc & 15u);
  let minv = dd.y * f32(sc >> 4u);
  let q = (block + 16u + 32u * h + l) >> 2u;
  return Group8(scale * crumbs4($W[q], 2u * i) - vec4<f32>(minv), scale * crumbs4($W[q + 1u], 2u * i) - vec4<f32>(minv));
}
