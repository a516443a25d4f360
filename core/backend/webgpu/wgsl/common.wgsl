// Shared by every kernel. The composer (kernels.cpp) prepends this file, then the kernel, then one weight
// decoder per weight binding with `$W` renamed to that binding's variable (w0, w1, w2).

// Eight consecutive weight values, decoded to f32.
struct Group8 {
  a: vec4<f32>,
  b: vec4<f32>,
}

// Sign-extends byte `i` (0..3) of a 32-bit word.
fn sbyte(word: u32, i: u32) -> f32 {
  return f32(extractBits(bitcast<i32>(word), 8u * i, 8u));
}

// Byte `i` (0..3) of a 32-bit word, unsigned.
fn ubyte(word: u32, i: u32) -> u32 {
  return extractBits(word, 8u * i, 8u);
}

// Four nibbles at bit `shift` (0 or 4) of each byte of `word`, minus `bias`, as floats.
fn nibbles4(word: u32, shift: u32, bias: f32) -> vec4<f32> {
  let q = (word >> shift) & 0x0f0f0f0fu;
  return vec4<f32>(f32(q & 0xffu), f32((q >> 8u) & 0xffu), f32((q >> 16u) & 0xffu), f32(q >> 24u)) - vec4<f32>(bias);
}

fn silu(v: f32) -> f32 {
  return v / (1.0 + exp(-v));
}
