// Block formats: half/bfloat16 conversions, exact dequantization of hand-built blocks of every type, and
// quantize -> dequantize error bounds.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/error.h"
#include "quant/block_formats.h"
#include "quant/half_inline.h"
#include "quant/quantize.h"

namespace tabllm {
namespace {

constexpr TensorType kAllTypes[] = {TensorType::F32,  TensorType::F16,    TensorType::BF16, TensorType::Q4_0,
                                    TensorType::Q4_1, TensorType::Q5_0,   TensorType::Q5_1, TensorType::Q8_0,
                                    TensorType::Q2_K, TensorType::Q3_K,   TensorType::Q4_K, TensorType::Q5_K,
                                    TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS};

std::vector<float> dequantize(TensorType type, const void* src, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(type, src, out.data(), n);
  return out;
}

TEST(Half, KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(0x1p-14f), 0x0400);  // smallest normal
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
  EXPECT_EQ(f16_to_f32(0x3555), 0x1.554p-2f);
  EXPECT_EQ(f16_to_f32(0x0001), 0x1p-24f);
  EXPECT_EQ(f16_to_f32(0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f), 0x3c00);          // tie -> even mantissa
  EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);      // tie -> even (up)
  EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);                 // just below the overflow midpoint
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                 // the midpoint rounds to infinity
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);                 // half the smallest subnormal: tie -> 0
  EXPECT_EQ(f32_to_f16(0x1.8p-24f), 0x0002);               // 1.5 subnormal steps: tie -> 2
  EXPECT_EQ(f32_to_f16(0x1.ffcp-15f), 0x0400);             // rounds up into the smallest normal
}

TEST(Half, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << "half 0x" << std::hex << h;
  }
}

// The kernels' inline conversion (WebAssembly block scales) against the reference, bit for bit.
TEST(Half, InlineConversionMatchesEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto half = static_cast<uint16_t>(h);
    ASSERT_EQ(std::bit_cast<uint32_t>(f16_to_f32_inline(half)), std::bit_cast<uint32_t>(f16_to_f32(half)))
        << "half 0x" << std::hex << h;
  }
}

TEST(BFloat16, ConversionsRoundToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(BlockLayout, SizesMatchTypeTraits) {
  EXPECT_EQ(type_row_bytes(TensorType::Q4_0, 32), sizeof(blocks::Q4_0));
  EXPECT_EQ(type_row_bytes(TensorType::Q4_1, 32), sizeof(blocks::Q4_1));
  EXPECT_EQ(type_row_bytes(TensorType::Q5_0, 32), sizeof(blocks::Q5_0));
  EXPECT_EQ(type_row_bytes(TensorType::Q5_1, 32), sizeof(blocks::Q5_1));
  EXPECT_EQ(type_row_bytes(TensorType::Q8_0, 32), sizeof(blocks::Q8_0));
  EXPECT_EQ(type_row_bytes(TensorType::Q4_K, 256), sizeof(blocks::Q4_K));
  EXPECT_EQ(type_row_bytes(TensorType::Q5_K, 256), sizeof(blocks::Q5_K));
  EXPECT_EQ(type_row_bytes(TensorType::Q6_K, 256), sizeof(blocks::Q6_K));
  EXPECT_EQ(type_row_bytes(TensorType::Q2_K, 256), sizeof(blocks::Q2_K));
  EXPECT_EQ(type_row_bytes(TensorType::Q3_K, 256), sizeof(blocks::Q3_K));
  EXPECT_EQ(type_row_bytes(TensorType::IQ4_NL, 32), sizeof(blocks::IQ4_NL));
  EXPECT_EQ(type_row_bytes(TensorType::IQ4_XS, 256), sizeof(blocks::IQ4_XS));
}

TEST(TypeTable, EveryGgufTypeIdHasItsName) {
  // ggml's ids and block geometry (ggml.h / ggml-common.h); 4, 5 and 31-33, 36-38 are retired ids.
  const struct {
    uint32_t id;
    const char* name;
    uint32_t block, bytes;
  } known[] = {{9, "q8_1", 32, 36},      {15, "q8_k", 256, 292},    {16, "iq2_xxs", 256, 66}, {17, "iq2_xs", 256, 74},
               {18, "iq3_xxs", 256, 98}, {19, "iq1_s", 256, 50},    {21, "iq3_s", 256, 110},  {22, "iq2_s", 256, 82},
               {24, "i8", 1, 1},         {25, "i16", 1, 2},         {26, "i32", 1, 4},        {27, "i64", 1, 8},
               {28, "f64", 1, 8},        {29, "iq1_m", 256, 56},    {34, "tq1_0", 256, 54},   {35, "tq2_0", 256, 66},
               {39, "mxfp4", 32, 17},    {40, "nvfp4", 64, 36}};
  for (const auto& k : known) {
    const TypeTraits t = type_traits(k.id);
    EXPECT_STREQ(t.name, k.name) << k.id;
    EXPECT_EQ(t.block_size, k.block) << k.name;
    EXPECT_EQ(t.type_size, k.bytes) << k.name;
    EXPECT_FALSE(t.supported) << k.name;
  }
  for (uint32_t retired : {4u, 5u, 31u, 36u, 99u}) EXPECT_EQ(type_traits(retired).block_size, 0u) << retired;
  for (TensorType t : kAllTypes) {
    EXPECT_TRUE(type_traits(t).supported) << type_traits(t).name;
    EXPECT_EQ(parse_type_name(type_traits(t).name), t);
  }
  EXPECT_EQ(supported_types().size(), std::size(kAllTypes));
  EXPECT_EQ(supported_type_names(), "f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_xs");
  EXPECT_EQ(parse_type_name("IQ4_XS"), TensorType::IQ4_XS);
  EXPECT_THROW(parse_type_name("iq2_xxs"), Error);
}

TEST(Dequantize, FloatTypes) {
  const float f32[3] = {1.5f, -2.25f, 1e-30f};
  EXPECT_EQ(dequantize(TensorType::F32, f32, 3), std::vector<float>(f32, f32 + 3));
  const uint16_t f16[3] = {0x3c00, 0xc500, 0x0001};
  EXPECT_EQ(dequantize(TensorType::F16, f16, 3), (std::vector<float>{1.0f, -5.0f, 0x1p-24f}));
  const uint16_t bf16[2] = {0x3f80, 0xc040};
  EXPECT_EQ(dequantize(TensorType::BF16, bf16, 2), (std::vector<float>{1.0f, -3.0f}));
}

TEST(Dequantize, Q4_0) {
  blocks::Q4_0 b{};
  b.d = f32_to_f16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const std::vector<float> y = dequantize(TensorType::Q4_0, &b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8));
    EXPECT_EQ(y[j + 16], 0.5f * (7 - j));
  }
}

TEST(Dequantize, Q4_1) {
  blocks::Q4_1 b{};
  b.d = f32_to_f16(0.25f);
  b.m = f32_to_f16(-1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (3 << 4));
  const std::vector<float> y = dequantize(TensorType::Q4_1, &b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * j - 1.0f);
    EXPECT_EQ(y[j + 16], 0.25f * 3 - 1.0f);
  }
}

TEST(Dequantize, Q5_0AndQ5_1) {
  // Element j has q = j (0..31): nibble j & 15, fifth bit (j >> 4) at bit j of qh.
  blocks::Q5_0 b0{};
  blocks::Q5_1 b1{};
  b0.d = f32_to_f16(2.0f);
  b1.d = f32_to_f16(0.5f);
  b1.m = f32_to_f16(3.0f);
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>(j >> 4) << j;
  for (int j = 0; j < 16; ++j) b0.qs[j] = b1.qs[j] = static_cast<uint8_t>((j & 15) | (((j + 16) & 15) << 4));
  std::memcpy(b0.qh, &qh, 4);
  std::memcpy(b1.qh, &qh, 4);
  const std::vector<float> y0 = dequantize(TensorType::Q5_0, &b0, 32);
  const std::vector<float> y1 = dequantize(TensorType::Q5_1, &b1, 32);
  for (int j = 0; j < 32; ++j) {
    EXPECT_EQ(y0[j], 2.0f * (j - 16)) << j;
    EXPECT_EQ(y1[j], 0.5f * j + 3.0f) << j;
  }
}

TEST(Dequantize, Q8_0) {
  blocks::Q8_0 b{};
  b.d = f32_to_f16(0.125f);
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 128);
  const std::vector<float> y = dequantize(TensorType::Q8_0, &b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.125f * (j * 8 - 128));
}

// Packs 6-bit scales and mins the way Q4_K/Q5_K store them (the inverse of unpack_k4_scales).
void pack_k4_scales(const int scale[8], const int min[8], uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>((scale[j] & 63) | ((scale[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>((min[j] & 63) | ((min[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((scale[j + 4] & 15) | ((min[j + 4] & 15) << 4));
  }
}

TEST(Dequantize, K4ScalesUnpack) {
  const int scale[8] = {1, 63, 17, 32, 5, 63, 48, 33}, min[8] = {0, 62, 9, 40, 63, 16, 31, 2};
  uint8_t packed[12];
  pack_k4_scales(scale, min, packed);
  uint8_t sc[8], mn[8];
  blocks::unpack_k4_scales(packed, sc, mn);
  for (int j = 0; j < 8; ++j) {
    EXPECT_EQ(sc[j], scale[j]) << j;
    EXPECT_EQ(mn[j], min[j]) << j;
  }
}

TEST(Dequantize, Q4_KAndQ5_K) {
  const int scale[8] = {1, 2, 3, 4, 60, 61, 62, 63}, min[8] = {7, 6, 5, 4, 33, 34, 35, 36};
  blocks::Q4_K b4{};
  blocks::Q5_K b5{};
  b4.d = b5.d = f32_to_f16(0.5f);
  b4.dmin = b5.dmin = f32_to_f16(0.25f);
  pack_k4_scales(scale, min, b4.scales);
  pack_k4_scales(scale, min, b5.scales);
  // Value l of sub-block j: nibble (l + j) & 15; Q5_K's fifth bit set for odd l.
  for (int chunk = 0; chunk < 4; ++chunk) {
    for (int l = 0; l < 32; ++l) {
      const int lo = (l + 2 * chunk) & 15, hi = (l + 2 * chunk + 1) & 15;
      b4.qs[32 * chunk + l] = b5.qs[32 * chunk + l] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
  for (int l = 0; l < 32; ++l) b5.qh[l] = (l & 1) ? 0xff : 0x00;
  const std::vector<float> y4 = dequantize(TensorType::Q4_K, &b4, 256);
  const std::vector<float> y5 = dequantize(TensorType::Q5_K, &b5, 256);
  for (int j = 0; j < 8; ++j) {
    for (int l = 0; l < 32; ++l) {
      const int q = (l + j) & 15;
      EXPECT_EQ(y4[32 * j + l], 0.5f * scale[j] * q - 0.25f * min[j]) << j << "," << l;
      EXPECT_EQ(y5[32 * j + l], 0.5f * scale[j] * (q + ((l & 1) ? 16 : 0)) - 0.25f * min[j]) << j << "," << l;
    }
  }
}

TEST(Dequantize, Q6_K) {
  // Element e gets q = e % 64, scale of sub-block s = s - 8; built through the documented bit layout.
  blocks::Q6_K b{};
  b.d = f32_to_f16(0.5f);
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(s - 8);
  for (int e = 0; e < 256; ++e) {
    const int q = e % 64, half = e / 128, part = (e % 128) / 32, l = e % 32;
    uint8_t& low = b.ql[64 * half + l + 32 * (part & 1)];
    low = static_cast<uint8_t>(low | ((q & 15) << (4 * (part >> 1))));
    uint8_t& high = b.qh[32 * half + l];
    high = static_cast<uint8_t>(high | ((q >> 4) << (2 * part)));
  }
  const std::vector<float> y = dequantize(TensorType::Q6_K, &b, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.5f * static_cast<float>(e / 16 - 8) * (e % 64 - 32)) << e;
}

// Element e of a Q2_K / Q3_K block gets low bits `low(e)` through the documented layout.
template <class F>
void put_2_bits(uint8_t qs[64], F low) {
  for (int e = 0; e < 256; ++e) {
    uint8_t& byte = qs[32 * (e / 128) + e % 32];
    byte = static_cast<uint8_t>(byte | ((low(e) & 3) << (2 * ((e / 32) % 4))));
  }
}

TEST(Dequantize, Q2_K) {
  // Sub-block s: scale s % 16, min 15 - s; element e: q = (e / 3) % 4.
  blocks::Q2_K b{};
  b.d = f32_to_f16(0.5f);
  b.dmin = f32_to_f16(0.25f);
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>(s | ((15 - s) << 4));
  put_2_bits(b.qs, [](int e) { return (e / 3) % 4; });
  const std::vector<float> y = dequantize(TensorType::Q2_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int s = e / 16;
    EXPECT_EQ(y[e], 0.5f * static_cast<float>(s) * static_cast<float>((e / 3) % 4) - 0.25f * static_cast<float>(15 - s)) << e;
  }
}

TEST(Dequantize, Q3_K) {
  // Sub-block s: stored 6-bit scale 4s + 3 (decoded 4s - 29); element e: q = (e / 5) % 8.
  blocks::Q3_K b{};
  b.d = f32_to_f16(0.5f);
  for (int s = 0; s < 16; ++s) {
    const int v = 4 * s + 3;  // stored value, decoded as v - 32
    b.scales[s % 8] = static_cast<uint8_t>(b.scales[s % 8] | ((v & 15) << (4 * (s / 8))));
    b.scales[8 + s % 4] = static_cast<uint8_t>(b.scales[8 + s % 4] | ((v >> 4) << (2 * (s / 4))));
  }
  put_2_bits(b.qs, [](int e) { return (e / 5) % 8; });
  for (int e = 0; e < 256; ++e) {
    if (((e / 5) % 8) & 4) b.hmask[e % 32] = static_cast<uint8_t>(b.hmask[e % 32] | (1 << (e / 32)));
  }
  const std::vector<float> y = dequantize(TensorType::Q3_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    EXPECT_EQ(y[e], 0.5f * static_cast<float>(4 * (e / 16) + 3 - 32) * static_cast<float>((e / 5) % 8 - 4)) << e;
  }
}

TEST(Dequantize, IQ4_NLAndIQ4_XS) {
  const int grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  blocks::IQ4_NL nl{};
  nl.d = f32_to_f16(0.5f);
  for (int j = 0; j < 16; ++j) nl.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const std::vector<float> y = dequantize(TensorType::IQ4_NL, &nl, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * static_cast<float>(grid[j])) << j;
    EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(grid[15 - j])) << j;
  }
  // Sub-block s: stored 6-bit scale 8s + 2 (decoded 8s - 30); element 32s + j: index (j + s) % 16.
  blocks::IQ4_XS xs{};
  xs.d = f32_to_f16(0.25f);
  for (int s = 0; s < 8; ++s) {
    const int v = 8 * s + 2;
    xs.scales_l[s / 2] = static_cast<uint8_t>(xs.scales_l[s / 2] | ((v & 15) << (4 * (s % 2))));
    xs.scales_h = static_cast<uint16_t>(xs.scales_h | ((v >> 4) << (2 * s)));
    for (int j = 0; j < 16; ++j) xs.qs[16 * s + j] = static_cast<uint8_t>(((j + s) % 16) | (((j + 16 + s) % 16) << 4));
  }
  const std::vector<float> z = dequantize(TensorType::IQ4_XS, &xs, 256);
  for (int e = 0; e < 256; ++e) {
    const int s = e / 32, j = e % 32;
    EXPECT_EQ(z[e], 0.25f * static_cast<float>(8 * s - 30) * static_cast<float>(grid[(j + s) % 16])) << e;
  }
}

TEST(Dequantize, RejectsUnsupportedTypesAndPartialBlocks) {
  uint8_t buf[512] = {};
  float out[256];
  try {
    dequantize_row(TensorType::IQ2_XXS, buf, out, 256);
    ADD_FAILURE() << "iq2_xxs was decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("iq2_xxs"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(supported_type_names()), std::string::npos) << e.what();
  }
  EXPECT_THROW(dequantize_row(TensorType::Q4_0, buf, out, 33), Error);
  EXPECT_THROW(dequantize_row(static_cast<TensorType>(99), buf, out, 32), Error);
}

// Max |x - dequantize(quantize(x))| allowed for one 32-element block holding the values `x`.
float block_error_bound(TensorType type, const float* x) {
  float amax = 0.0f, min = x[0], max = x[0];
  for (int j = 0; j < 32; ++j) {
    amax = std::fmax(amax, std::fabs(x[j]));
    min = std::fmin(min, x[j]);
    max = std::fmax(max, x[j]);
  }
  const float half_rounding = 0x1p-11f;  // relative error of storing the scale (and min) as f16
  switch (type) {
    case TensorType::Q8_0: return amax * (0.5f / 127 + half_rounding) * 1.001f;
    // The largest magnitude maps to -2^(bits-1); the opposite extreme may clip one step.
    case TensorType::Q4_0: return amax * (1.0f / 8 + half_rounding) * 1.001f;
    case TensorType::Q5_0: return amax * (1.0f / 16 + half_rounding) * 1.001f;
    case TensorType::Q4_1: return ((max - min) * (0.5f / 15 + half_rounding) + std::fabs(min) * half_rounding) * 1.001f;
    case TensorType::Q5_1: return ((max - min) * (0.5f / 31 + half_rounding) + std::fabs(min) * half_rounding) * 1.001f;
    case TensorType::F16: return amax * 0x1p-11f;
    case TensorType::BF16: return amax * 0x1p-8f;
    default: return 0.0f;
  }
}

TEST(Quantize, RoundTripWithinFormatBounds) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 32 * 64;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = normal(rng) * (1.0f + static_cast<float>(i / 32 % 5));  // varied block ranges
  for (int j = 0; j < 32; ++j) x[32 + j] = 0.0f;                                               // an all-zero block
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0, TensorType::Q4_0,
                          TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1}) {
    ASSERT_TRUE(can_quantize(type));
    std::vector<uint8_t> encoded(type_row_bytes(type, n));
    quantize_row(type, x.data(), encoded.data(), n);
    const std::vector<float> y = dequantize(type, encoded.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {
      const float bound = block_error_bound(type, &x[b * 32]);
      for (int j = 0; j < 32; ++j) {
        ASSERT_LE(std::fabs(y[b * 32 + j] - x[b * 32 + j]), bound)
            << type_traits(type).name << " block " << b << " element " << j;
      }
    }
  }
}

// Relative RMS error of quantize -> dequantize on normal data, per searching encoder. The bounds are 3%
// above what ggml's reference quantizers reach on the same kind of data (q2_k 0.295, q3_k 0.150,
// q4_k 0.071, q5_k 0.0355, q6_k 0.0176, iq4_nl 0.0751, iq4_xs 0.0758, measured on 4096 normal values).
TEST(Quantize, SearchingEncodersMatchTheReferenceError) {
  const struct {
    TensorType type;
    double bound;
  } cases[] = {{TensorType::Q2_K, 0.295 * 1.03},   {TensorType::Q3_K, 0.150 * 1.03},   {TensorType::Q4_K, 0.071 * 1.03},
               {TensorType::Q5_K, 0.0355 * 1.03},  {TensorType::Q6_K, 0.0176 * 1.03},  {TensorType::IQ4_NL, 0.0751 * 1.03},
               {TensorType::IQ4_XS, 0.0758 * 1.03}};
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 256 * 32;
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  for (const auto& c : cases) {
    ASSERT_TRUE(can_quantize(c.type));
    std::vector<uint8_t> encoded(type_row_bytes(c.type, n));
    quantize_row(c.type, x.data(), encoded.data(), n);
    const std::vector<float> y = dequantize(c.type, encoded.data(), n);
    double err = 0, norm = 0;
    for (int64_t i = 0; i < n; ++i) {
      err += (y[i] - x[i]) * (y[i] - x[i]);
      norm += x[i] * x[i];
    }
    EXPECT_LE(std::sqrt(err / norm), c.bound) << type_traits(c.type).name;
  }
}

// Blocks with very different ranges, an all-zero block, a constant block and a one-sign block: each value
// comes back within a few of its block's steps, and zeros stay exactly zero.
TEST(Quantize, SearchingEncodersHandleOddBlocks) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 256 * 6;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = normal(rng) * std::pow(10.0f, static_cast<float>(i / 256) - 3.0f);
  for (int64_t i = 256; i < 512; ++i) x[i] = 0.0f;
  for (int64_t i = 512; i < 768; ++i) x[i] = 0.75f;
  for (int64_t i = 768; i < 1024; ++i) x[i] = std::fabs(x[i]) + 1.0f;
  for (TensorType type : {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K,
                          TensorType::IQ4_NL, TensorType::IQ4_XS}) {
    std::vector<uint8_t> encoded(type_row_bytes(type, n));
    quantize_row(type, x.data(), encoded.data(), n);
    const std::vector<float> y = dequantize(type, encoded.data(), n);
    for (int64_t b = 0; b < n / 256; ++b) {
      float amax = 0;
      for (int j = 0; j < 256; ++j) amax = std::fmax(amax, std::fabs(x[b * 256 + j]));
      // Two bits leave 4 levels per 16 values; the others at least 8.
      const float bound = amax * (type == TensorType::Q2_K ? 0.6f : 0.3f);
      for (int j = 0; j < 256; ++j) {
        const int64_t i = b * 256 + j;
        if (x[i] == 0.0f) {
          ASSERT_EQ(y[i], 0.0f) << type_traits(type).name << " element " << i;
        }
        ASSERT_LE(std::fabs(y[i] - x[i]), bound) << type_traits(type).name << " element " << i;
      }
    }
  }
}

TEST(Quantize, ExtremesMapToTheEndsOfTheRange) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j) - 10.0f;  // -10 .. 21
  blocks::Q4_0 b4;
  quantize_row(TensorType::Q4_0, x, &b4, 32);
  EXPECT_EQ(f16_to_f32(b4.d), f16_to_f32(f32_to_f16(21.0f / -8)));
  EXPECT_EQ(b4.qs[15] >> 4, 0);  // x[31] = 21, the largest magnitude -> q = 0 (value -8 * d)
  blocks::Q8_0 b8;
  quantize_row(TensorType::Q8_0, x, &b8, 32);
  EXPECT_EQ(b8.qs[31], 127);
  EXPECT_EQ(b8.qs[0], -60);  // round(-10 * 127 / 21) = round(-60.48)
}

TEST(Quantize, RejectsTypesItCannotWrite) {
  float x[256] = {};
  uint8_t out[512];
  for (TensorType type : kAllTypes) {
    if (!can_quantize(type)) {
      EXPECT_THROW(quantize_row(type, x, out, 256), Error) << type_traits(type).name;
    }
  }
  EXPECT_THROW(quantize_row(TensorType::Q8_0, x, out, 31), Error);
}

}  // namespace
}  // namespace tabllm
