// Rotary position embedding, written once: frequencies, per-position (cos, sin) and the rotation of a head.
// The CPU forward pass, the WebGPU plan's RoPE table and the reference exports all use these.
#pragma once
#include <cstdint>
#include <vector>

namespace tabllm::ops {

// Which elements of a head RoPE rotates together.
enum class RopePairing {
  Interleaved,  // (2i, 2i+1): GGUF llama files
  Halves,       // (i, i + rope_dims/2): qwen2, qwen3, phi3, gemma ("neox")
};

// The angle per position of each of the rope_dims / 2 rotated pairs, in float:
// base^(-2i/rope_dims) / factors[i] / linear_scale. `factors` (may be null) are per-pair divisors from the
// file (Llama 3's rope_freqs, Phi-3's rope_factors_long/short); positions are divided by linear_scale.
std::vector<float> rope_inverse_frequencies(int64_t rope_dims, float base, const float* factors, float linear_scale);

// cos and sin of position · inv_freq[i] (angles in double), each times attn_factor (LongRoPE's
// magnitude correction; 1 elsewhere), for every pair.
void rope_cos_sin(int64_t position, const std::vector<float>& inv_freq, float attn_factor, float* cos, float* sin);

// cos and sin that turn a key rotated for position p into one rotated for p - distance (a context shift):
// those of position -distance, without attn_factor, which the key carries already. RoPE angles are linear
// in the position, so for every frequency table (plain, linear-scaled, Llama 3's factors, LongRoPE) the
// result is the key at p - distance, up to float rounding.
void rope_shift_cos_sin(int64_t distance, const std::vector<float>& inv_freq, float* cos, float* sin);

// Rotates the first rope_dims elements of one head in place by the position's (cos, sin); the rest of
// the head is left as it is (partial rotary).
void rope_rotate(float* head, const float* cos, const float* sin, int64_t rope_dims, RopePairing pairing);

}  // namespace tabllm::ops
