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

// The four bytes of a word, sign-extended.
fn sbytes4(word: u32) -> vec4<f32> {
  let w = bitcast<i32>(word);
  return vec4<f32>(f32(extractBits(w, 0u, 8u)), f32(extractBits(w, 8u, 8u)), f32(extractBits(w, 16u, 8u)), f32(extractBits(w, 24u, 8u)));
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

// Two bits at `shift` of each byte of `word` (Q2_K / Q3_K quants), as floats.
fn crumbs4(word: u32, shift: u32) -> vec4<f32> {
  let q = (word >> shift) & 0x03030303u;
  return vec4<f32>(f32(q & 0xffu), f32((q >> 8u) & 0xffu), f32((q >> 16u) & 0xffu), f32(q >> 24u));
}

// Bits 0..7 of `bits` times 16: the fifth bits of eight consecutive Q5_0 / Q5_1 values.
fn fifth_bits8(bits: u32) -> Group8 {
  let b = vec4<u32>(bits, bits >> 1u, bits >> 2u, bits >> 3u) & vec4<u32>(1u);
  let c = vec4<u32>(bits >> 4u, bits >> 5u, bits >> 6u, bits >> 7u) & vec4<u32>(1u);
  return Group8(16.0 * vec4<f32>(b), 16.0 * vec4<f32>(c));
}

// IQ4 grid value `index` (a non-uniform 4-bit codebook: -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25,
// 38, 53, 69, 89, 113), kept as four words of signed bytes and picked without dynamic indexing.
fn iq4_value(index: u32) -> f32 {
  let pair_lo = select(0xbfad9881u, 0xf6eaddcfu, (index & 4u) != 0u);
  let pair_hi = select(0x26190d01u, 0x71594535u, (index & 4u) != 0u);
  let word = select(pair_lo, pair_hi, (index & 8u) != 0u);
  return f32(extractBits(bitcast<i32>(word), 8u * (index & 3u), 8u));
}

// Four IQ4 grid values for the nibbles at `shift` of each byte of `word`.
fn iq4_grid4(word: u32, shift: u32) -> vec4<f32> {
  let q = (word >> shift) & 0x0f0f0f0fu;
  return vec4<f32>(iq4_value(q & 15u), iq4_value((q >> 8u) & 15u), iq4_value((q >> 16u) & 15u), iq4_value(q >> 24u));
}

// The op math of core/ops, as the CPU computes it.

// ops::silu
fn silu(v: f32) -> f32 {
  return v / (1.0 + exp(-v));
}

// tanh with its argument clamped to [-10, 10], where the f32 result is already ±1: WGSL lets tanh be
// computed as sinh / cosh, which gives NaN once exp overflows.
fn tanh_f32(v: f32) -> f32 {
  return tanh(clamp(v, -10.0, 10.0));
}

// ops::gelu_tanh: the gate of Gemma's feed-forward blocks.
fn gelu_tanh(v: f32) -> f32 {
  return 0.5 * v * (1.0 + tanh_f32(0.7978845608028654 * v * (1.0 + 0.044715 * v * v)));
}

// ops::soft_cap: cap · tanh(v / cap), or v when cap <= 0.
fn soft_cap(v: f32, cap: f32) -> f32 {
  if (cap > 0.0) { return cap * tanh_f32(v / cap); }
  return v;
}

// ops::attention_window_start: the first position a query at `qpos` sees (window 0: no window).
fn window_start(qpos: u32, window: u32) -> u32 {
  if (window > 0u && qpos >= window) { return qpos + 1u - window; }
  return 0u;
}
