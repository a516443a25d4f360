// quantize_row: round-to-nearest encoders for the 32-value formats tabllm writes (the reference rules of each
// format, so files it produces decode like files made by other GGUF tools); the others searching encoders in
// quantize_superblock.cpp.
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "quant/block_formats.h"
#include "quant/quantize.h"
#include "quant/quantize_superblock.h"

namespace tabllm {
namespace {

// The value with the largest magnitude (sign kept) of one 32-element block.
float signed_absmax(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, float* min, float* max) {
  *min = x[0];
  *max = x[0];
  for (int j = 1; j < 32; ++j) {
    *min = std::fmin(*min, x[j]);
    *max = std::fmax(*max, x[j]);
  }
}

// Symmetric 4/5-bit blocks map the largest-magnitude value to -2^(bits-1) exactly, the rest rounded.
void quantize_symmetric(const float* x, int levels, float* d_out, int q[32]) {
  const float d = signed_absmax(x) / static_cast<float>(-levels / 2);
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) {
    const int v = static_cast<int>(x[j] * inv + static_cast<float>(levels / 2) + 0.5f);  // truncation: v >= 0
    q[j] = v < levels - 1 ? v : levels - 1;
  }
  *d_out = d;
}

// Asymmetric blocks spread [min, max] over the levels: x = d * q + min.
void quantize_affine(const float* x, int levels, float* d_out, float* m_out, int q[32]) {
  float min, max;
  min_max(x, &min, &max);
  const float d = (max - min) / static_cast<float>(levels - 1);
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) {
    const int v = static_cast<int>((x[j] - min) * inv + 0.5f);
    q[j] = v < levels - 1 ? v : levels - 1;
  }
  *d_out = d;
  *m_out = min;
}

void pack_nibbles(const int q[32], uint8_t qs[16]) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0xf) | ((q[j + 16] & 0xf) << 4));
}

void pack_fifth_bits(const int q[32], uint8_t qh_bytes[4]) {
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh_bytes, &qh, 4);
}

void quantize_q8_0(const float* x, blocks::Q8_0* b, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, x += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int j = 0; j < 32; ++j) b[i].qs[j] = static_cast<int8_t>(std::lround(x[j] * inv));
  }
}

void quantize_q4_0(const float* x, blocks::Q4_0* b, int64_t n_blocks) {
  int q[32];
  float d;
  for (int64_t i = 0; i < n_blocks; ++i, x += 32) {
    quantize_symmetric(x, 16, &d, q);
    b[i].d = f32_to_f16(d);
    pack_nibbles(q, b[i].qs);
  }
}

void quantize_q5_0(const float* x, blocks::Q5_0* b, int64_t n_blocks) {
  int q[32];
  float d;
  for (int64_t i = 0; i < n_blocks; ++i, x += 32) {
    quantize_symmetric(x, 32, &d, q);
    b[i].d = f32_to_f16(d);
    pack_nibbles(q, b[i].qs);
    pack_fifth_bits(q, b[i].qh);
  }
}

void quantize_q4_1(const float* x, blocks::Q4_1* b, int64_t n_blocks) {
  int q[32];
  float d, m;
  for (int64_t i = 0; i < n_blocks; ++i, x += 32) {
    quantize_affine(x, 16, &d, &m, q);
    b[i].d = f32_to_f16(d);
    b[i].m = f32_to_f16(m);
    pack_nibbles(q, b[i].qs);
  }
}

void quantize_q5_1(const float* x, blocks::Q5_1* b, int64_t n_blocks) {
  int q[32];
  float d, m;
  for (int64_t i = 0; i < n_blocks; ++i, x += 32) {
    quantize_affine(x, 32, &d, &m, q);
    b[i].d = f32_to_f16(d);
    b[i].m = f32_to_f16(m);
    pack_nibbles(q, b[i].qs);
    pack_fifth_bits(q, b[i].qh);
  }
}

}  // namespace

bool can_quantize(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q8_0:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::IQ4_NL:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::IQ4_XS: return true;
    default: return false;
  }
}

void quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
  const TypeTraits traits = type_traits(type);
  if (!can_quantize(type)) {
    throw Error(std::string("cannot quantize to ") + traits.name + ": tabllm writes " + supported_type_names());
  }
  if (n % traits.block_size != 0) {
    throw Error("quantize_row: " + std::to_string(n) + " elements is not a multiple of the " + traits.name +
                " block size " + std::to_string(traits.block_size));
  }
  const int64_t n_blocks = n / traits.block_size;
  switch (type) {
    case TensorType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case TensorType::F16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_f16(src[i]);
      return;
    }
    case TensorType::BF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(src[i]);
      return;
    }
    case TensorType::Q8_0: return quantize_q8_0(src, static_cast<blocks::Q8_0*>(dst), n_blocks);
    case TensorType::Q4_0: return quantize_q4_0(src, static_cast<blocks::Q4_0*>(dst), n_blocks);
    case TensorType::Q4_1: return quantize_q4_1(src, static_cast<blocks::Q4_1*>(dst), n_blocks);
    case TensorType::Q5_0: return quantize_q5_0(src, static_cast<blocks::Q5_0*>(dst), n_blocks);
    case TensorType::Q5_1: return quantize_q5_1(src, static_cast<blocks::Q5_1*>(dst), n_blocks);
    default: quantize_superblock_row(type, src, dst, n_blocks); return;
  }
}

}  // namespace tabllm
