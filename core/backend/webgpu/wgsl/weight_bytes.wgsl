// Byte-level reads of a weight buffer $W (array<u32>), composed before each weight type's decoder: GGUF
// blocks are packed at byte offsets that need not be word aligned.

// The 4 bytes at `byte`, little-endian, aligned or not. Without a branch: neighbouring threads read blocks
// of both alignments, and a branch would run both paths one after the other. (A shift by 32 - 0 is a shift
// by 0 in WGSL, hence the select; the word past the end of a buffer reads as some value of it or zero.)
fn $W_u32(byte: u32) -> u32 {
  let i = byte >> 2u;
  let s = (byte & 3u) * 8u;
  return ($W[i] >> s) | select($W[i + 1u] << (32u - s), 0u, s == 0u);
}

fn $W_byte(byte: u32) -> u32 {
  return extractBits($W[byte >> 2u], (byte & 3u) * 8u, 8u);
}

fn $W_half(byte: u32) -> f32 {  // byte is even
  return unpack2x16float($W[byte >> 2u] >> ((byte & 2u) * 8u)).x;
}

// The 6-bit scale and min of sub-block s of the Q4_K/Q5_K super-block at `block`, as floats
// (see blocks::unpack_k4_scales).
fn $W_k4_scale_min(block: u32, s: u32) -> vec2<f32> {
  let sc = block + 4u;
  if (s < 4u) {
    return vec2<f32>(f32($W_byte(sc + s) & 63u), f32($W_byte(sc + s + 4u) & 63u));
  }
  let hi = $W_byte(sc + s + 4u);
  return vec2<f32>(f32((hi & 15u) | (($W_byte(sc + s - 4u) >> 6u) << 4u)),
                   f32((hi >> 4u) | (($W_byte(sc + s) >> 6u) << 4u)));
}

