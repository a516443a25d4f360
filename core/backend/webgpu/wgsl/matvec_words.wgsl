// Whole-word reads of a weight buffer $W for the matvec decoders, composed before each of them.

// The 16 bytes at a 2-byte aligned `byte`, as 4 little-endian words: 5 word reads, shifted by a half word
// when `byte` is not word aligned (a select, not a branch: neighbouring threads read blocks of both
// alignments). The word past the end of a buffer reads as some value of it or zero, and is then unused.
fn $W_words4(byte: u32) -> vec4<u32> {
  let i = byte >> 2u;
  let a = vec4<u32>($W[i], $W[i + 1u], $W[i + 2u], $W[i + 3u]);
  let b = vec4<u32>(a.yzw, $W[i + 4u]);
  return select((a >> vec4<u32>(16u)) | (b << vec4<u32>(16u)), a, (byte & 2u) == 0u);
}

// The 2 bytes at an even `byte`.
fn $W_u16(byte: u32) -> u32 {
  return extractBits($W[byte >> 2u], (byte & 2u) * 8u, 16u);
}
