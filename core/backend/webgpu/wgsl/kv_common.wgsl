// Shared by the KV cache codecs (kv_<type>.wgsl), composed once before them into every kernel that reads or
// writes the cache. Rounding is done in integers where the WGSL built-ins may differ from the CPU
// (core/quant: f32_to_f16, quantize_q8_0), so a GPU cache holds the bits the CPU's would.

// f32 → f16 bits, rounded to nearest even like core/quant/half.cpp f32_to_f16 (pack2x16float may round
// either way), with the same nan, overflow and subnormal rules.
fn f16_bits(f: f32) -> u32 {
  let bits = bitcast<u32>(f);
  let sign = (bits >> 16u) & 0x8000u;
  let magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) { return sign | 0x7e00u | ((magnitude >> 13u) & 0x3ffu); }
  if (magnitude >= 0x477ff000u) { return sign | 0x7c00u; }
  if (magnitude >= 0x38800000u) {
    let rebiased = magnitude - (112u << 23u);
    return sign | ((rebiased + 0xfffu + ((rebiased >> 13u) & 1u)) >> 13u);
  }
  let shift = 126u - min(magnitude >> 23u, 126u);  // >= 14 (a subnormal half, or zero)
  if (shift > 24u) { return sign; }
  let significand = (magnitude & 0x7fffffu) | 0x800000u;
  var result = significand >> shift;
  let remainder = significand & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  if (remainder > half || (remainder == half && (result & 1u) == 1u)) { result += 1u; }
  return sign | result;
}

// The value of f16 bits `h` (finite), subnormals included (unpack2x16float may flush them).
fn f16_value(h: u32) -> f32 {
  let magnitude = h & 0x7fffu;
  var v = bitcast<f32>((((magnitude >> 10u) + 112u) << 23u) | ((magnitude & 0x3ffu) << 13u));
  if (magnitude < 0x400u) { v = f32(magnitude) * 5.9604644775390625e-8; }  // 2^-24
  return select(v, -v, (h & 0x8000u) != 0u);
}

// a / b rounded to nearest even, for positive a and b (WGSL's division may be 2.5 ULP off): long division of
// the significands in integers. Falls back to `/` outside normal numbers.
fn div_rn(a: f32, b: f32) -> f32 {
  let ua = bitcast<u32>(a);
  let ub = bitcast<u32>(b);
  let ea = ua >> 23u;
  let eb = ub >> 23u;
  var e = i32(ea) - i32(eb) + 127;
  var ma = (ua & 0x7fffffu) | 0x800000u;
  let mb = (ub & 0x7fffffu) | 0x800000u;
  if (ma < mb) {
    ma <<= 1u;
    e -= 1;
  }
  if (ea == 0u || eb == 0u || ea == 255u || eb == 255u || e <= 0 || e >= 254) { return a / b; }
  // ma / mb lies in [1, 2): 24 significand bits and a rounding bit, then whether a remainder is left.
  var q = 0u;
  var r = ma;
  for (var i = 0u; i < 25u; i++) {
    q <<= 1u;
    if (r >= mb) {
      r -= mb;
      q |= 1u;
    }
    r <<= 1u;
  }
  let round = (q & 1u) == 1u;
  q >>= 1u;
  if (round && (r != 0u || (q & 1u) == 1u)) { q += 1u; }
  if (q == 0x1000000u) {
    q >>= 1u;
    e += 1;
  }
  return bitcast<f32>((u32(e) << 23u) | (q & 0x7fffffu));
}

// std::lround: to nearest, halves away from zero (WGSL's round() takes halves to even).
fn round_away(v: f32) -> f32 {
  let a = abs(v);
  let t = trunc(a);
  return sign(v) * (t + select(0.0, 1.0, a - t >= 0.5));
}
