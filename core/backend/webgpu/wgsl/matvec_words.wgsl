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

// The scales and mins of sub-blocks 2c and 2c + 1 of the Q4_K/Q5_K super-block at word `w` (d and dmin,
// then the 12 scale bytes): (scale 2c, scale 2c + 1, min 2c, min 2c + 1) times d and dmin. Scale bytes 0-3
// hold sub-blocks 0-3's scales in their low 6 bits, bytes 4-7 their mins; sub-blocks 4-7 take the low and
// high nibbles of bytes 8-11 and the top 2 bits of bytes 0-3 (scales) and 4-7 (mins). Word-wide, without a
// branch: neighbouring threads take pairs of both halves.
fn $W_k4_pair_scales(w: u32, c: u32) -> vec4<f32> {
  let dd = unpack2x16float($W[w]);
  let s0 = $W[w + 1u];
  let s1 = $W[w + 2u];
  let s2 = $W[w + 3u];
  let high = c >= 2u;
  let sc = select(s0 & 0x3f3f3f3fu, (s2 & 0x0f0f0f0fu) | ((s0 >> 2u) & 0x30303030u), high);
  let mn = select(s1 & 0x3f3f3f3fu, ((s2 >> 4u) & 0x0f0f0f0fu) | ((s1 >> 2u) & 0x30303030u), high);
  let at = 16u * (c & 1u);
  return vec4<f32>(dd.x * f32(extractBits(sc, at, 8u)), dd.x * f32(extractBits(sc, at + 8u, 8u)),
                   dd.y * f32(extractBits(mn, at, 8u)), dd.y * f32(extractBits(mn, at + 8u, 8u)));
}

// Units 2c and 2c + 1 of the Q4_K/Q5_K super-block at word `w`: the low and the high nibbles of the 8 words
// from word `quants`, and their scales and mins (Q5_K then adds the fifth bits).
fn $W_k4_pair(w: u32, c: u32, quants: u32) -> UnitPair {
  let s = $W_k4_pair_scales(w, c);
  var lo: array<u32, 8>;
  var hi: array<u32, 8>;
  for (var k = 0u; k < 8u; k++) {
    let v = $W[quants + k];
    lo[k] = v & 0x0f0f0f0fu;
    hi[k] = (v >> 4u) & 0x0f0f0f0fu;
  }
  return UnitPair(Unit(lo, vec2<f32>(s.x), vec2<f32>(s.z)), Unit(hi, vec2<f32>(s.y), vec2<f32>(s.w)));
}
