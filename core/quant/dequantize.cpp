// dequantize_row: the exact values each block format encodes (the reference every kernel is checked against).
#include <cstring>

#include "common/error.h"
#include "quant/block_formats.h"
#include "quant/quantize.h"

namespace tabllm {
namespace {

void dequantize_q4_0(const blocks::Q4_0* b, float* y, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, y += 32) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>((b[i].qs[j] & 0xf) - 8);
      y[j + 16] = d * static_cast<float>((b[i].qs[j] >> 4) - 8);
    }
  }
}

void dequantize_q4_1(const blocks::Q4_1* b, float* y, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, y += 32) {
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(b[i].qs[j] & 0xf) + m;
      y[j + 16] = d * static_cast<float>(b[i].qs[j] >> 4) + m;
    }
  }
}

// The 5-bit values of a Q5_0/Q5_1 block, in [0, 31].
void unpack_q5(const uint8_t qh_bytes[4], const uint8_t qs[16], int q[32]) {
  const uint32_t qh = blocks::load_u32(qh_bytes);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
  }
}

void dequantize_q5_0(const blocks::Q5_0* b, float* y, int64_t n_blocks) {
  int q[32];
  for (int64_t i = 0; i < n_blocks; ++i, y += 32) {
    const float d = f16_to_f32(b[i].d);
    unpack_q5(b[i].qh, b[i].qs, q);
    for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(q[j] - 16);
  }
}

void dequantize_q5_1(const blocks::Q5_1* b, float* y, int64_t n_blocks) {
  int q[32];
  for (int64_t i = 0; i < n_blocks; ++i, y += 32) {
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    unpack_q5(b[i].qh, b[i].qs, q);
    for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(q[j]) + m;
  }
}

void dequantize_q8_0(const blocks::Q8_0* b, float* y, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, y += 32) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(b[i].qs[j]);
  }
}

// Q4_K and Q5_K share everything but the fifth bit (qh == nullptr for Q4_K).
void dequantize_k4(uint16_t d16, uint16_t dmin16, const uint8_t packed_scales[12], const uint8_t* qh,
                   const uint8_t qs[128], float* y) {
  const float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
  uint8_t scale[8], min[8];
  blocks::unpack_k4_scales(packed_scales, scale, min);
  for (int sub = 0; sub < 8; ++sub, y += 32) {
    const uint8_t* q = qs + 32 * (sub / 2);
    const int shift = 4 * (sub % 2);
    const float sub_scale = d * scale[sub], sub_min = dmin * min[sub];
    for (int l = 0; l < 32; ++l) {
      const int high = qh ? ((qh[l] >> sub) & 1) << 4 : 0;
      y[l] = sub_scale * static_cast<float>(((q[l] >> shift) & 0xf) | high) - sub_min;
    }
  }
}

void dequantize_q6_k(const blocks::Q6_K* b, float* y, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b[i].ql + 64 * half;
      const uint8_t* qh = b[i].qh + 32 * half;
      for (int part = 0; part < 4; ++part, y += 32) {
        const uint8_t* low = ql + 32 * (part & 1);
        const int low_shift = 4 * (part >> 1);
        for (int l = 0; l < 32; ++l) {
          const int q = ((low[l] >> low_shift) & 0xf) | (((qh[l] >> (2 * part)) & 3) << 4);
          const int sub = 8 * half + 2 * part + l / 16;
          y[l] = d * static_cast<float>(b[i].scales[sub]) * static_cast<float>(q - 32);
        }
      }
    }
  }
}

// Q2_K and Q3_K share the 2-bit layout: the low bits of element 128h + 32i + l are bits 2i.. of qs[32h + l].
int low_2_bits(const uint8_t qs[64], int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3; }

void dequantize_q2_k(const blocks::Q2_K* b, float* y, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, y += 256) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int e = 0; e < 256; ++e) {
      const uint8_t sc = b[i].scales[e / 16];
      y[e] = d * static_cast<float>(sc & 0xf) * static_cast<float>(low_2_bits(b[i].qs, e)) -
             dmin * static_cast<float>(sc >> 4);
    }
  }
}

void dequantize_q3_k(const blocks::Q3_K* b, float* y, int64_t n_blocks) {
  int8_t scale[16];
  for (int64_t i = 0; i < n_blocks; ++i, y += 256) {
    const float d = f16_to_f32(b[i].d);
    blocks::unpack_q3_k_scales(b[i].scales, scale);
    for (int e = 0; e < 256; ++e) {
      const int high = (b[i].hmask[e % 32] >> (e / 32)) & 1;
      const int q = low_2_bits(b[i].qs, e) | (high << 2);
      y[e] = d * static_cast<float>(scale[e / 16]) * static_cast<float>(q - 4);
    }
  }
}

// 16 nibble indices into kIq4Values, scaled: elements j and j + 16 of a 32-value group.
void dequantize_iq4_group(float d, const uint8_t qs[16], float* y) {
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(blocks::kIq4Values[qs[j] & 0xf]);
    y[j + 16] = d * static_cast<float>(blocks::kIq4Values[qs[j] >> 4]);
  }
}

void dequantize_iq4_nl(const blocks::IQ4_NL* b, float* y, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, y += 32) dequantize_iq4_group(f16_to_f32(b[i].d), b[i].qs, y);
}

void dequantize_iq4_xs(const blocks::IQ4_XS* b, float* y, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < 8; ++j, y += 32) {
      dequantize_iq4_group(d * static_cast<float>(blocks::iq4_xs_scale(b[i], j)), b[i].qs + 16 * j, y);
    }
  }
}

}  // namespace

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  const TypeTraits traits = type_traits(type);
  if (!traits.supported || traits.block_size == 0) {
    throw Error(std::string("cannot read tensors of type ") + traits.name + ": tabllm supports " +
                supported_type_names());
  }
  if (n % traits.block_size != 0) {
    throw Error("dequantize_row: " + std::to_string(n) + " elements is not a multiple of the " + traits.name +
                " block size " + std::to_string(traits.block_size));
  }
  const int64_t n_blocks = n / traits.block_size;
  switch (type) {
    case TensorType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case TensorType::F16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(h[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
      return;
    }
    case TensorType::Q4_0: return dequantize_q4_0(static_cast<const blocks::Q4_0*>(src), dst, n_blocks);
    case TensorType::Q4_1: return dequantize_q4_1(static_cast<const blocks::Q4_1*>(src), dst, n_blocks);
    case TensorType::Q5_0: return dequantize_q5_0(static_cast<const blocks::Q5_0*>(src), dst, n_blocks);
    case TensorType::Q5_1: return dequantize_q5_1(static_cast<const blocks::Q5_1*>(src), dst, n_blocks);
    case TensorType::Q8_0: return dequantize_q8_0(static_cast<const blocks::Q8_0*>(src), dst, n_blocks);
    case TensorType::Q4_K: {
      const auto* b = static_cast<const blocks::Q4_K*>(src);
      for (int64_t i = 0; i < n_blocks; ++i) dequantize_k4(b[i].d, b[i].dmin, b[i].scales, nullptr, b[i].qs, dst + 256 * i);
      return;
    }
    case TensorType::Q5_K: {
      const auto* b = static_cast<const blocks::Q5_K*>(src);
      for (int64_t i = 0; i < n_blocks; ++i) dequantize_k4(b[i].d, b[i].dmin, b[i].scales, b[i].qh, b[i].qs, dst + 256 * i);
      return;
    }
    case TensorType::Q6_K: return dequantize_q6_k(static_cast<const blocks::Q6_K*>(src), dst, n_blocks);
    case TensorType::Q2_K: return dequantize_q2_k(static_cast<const blocks::Q2_K*>(src), dst, n_blocks);
    case TensorType::Q3_K: return dequantize_q3_k(static_cast<const blocks::Q3_K*>(src), dst, n_blocks);
    case TensorType::IQ4_NL: return dequantize_iq4_nl(static_cast<const blocks::IQ4_NL*>(src), dst, n_blocks);
    case TensorType::IQ4_XS: return dequantize_iq4_xs(static_cast<const blocks::IQ4_XS*>(src), dst, n_blocks);
    default: break;
  }
  throw Error(std::string("dequantize_row: no decoder for type ") + traits.name);
}

}  // namespace tabllm
