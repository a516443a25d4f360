// The WebGPU plan of an embedding model: an encoder (bert, nomic-bert; core/backend/cpu/encoder.h is the same
// pass on the CPU), or a decoder whose file names a pooling (Qwen3-Embedding), run as a causal encoder: many
// inputs in one forward pass, each attending only to itself (a decoder's input only to its earlier tokens),
// pooled and L2-normalised on the GPU, so a call reads back one vector per input.
//
// The plan's `prefill` list is the whole pass; it has no decode list, KV cache or sampling. Per call the host
// writes the step buffer ([n_tokens, 0, 0, 0, token ids], as for decoders) and the `seqs` buffer (plan
// `seqs_buffer`; layout in wgsl/encoder_seqs.wgsl: where each token's input starts, its length, and each
// input's first token), runs the list with n_tokens, and reads n_inputs × dim floats from the `pooled`
// buffer. Per layer of an encoder (post-norm):
//   qkv (one product, or three when split) → encoder_qkv (bias, RoPE; when the model has either)
//   → encoder_attention → wo → encoder_norm (x = LN(x + out + bo)) → up (+ encoder_act: bias, GELU) or
//   gate·up (GATED: SwiGLU) → down → encoder_norm (x = LN(x + out + b_down))
// after encoder_embed (token + type 0 + learned position) and its encoder_norm, and before encoder_pool.
// Per layer of a decoder (pre-norm, its RMSNorms fused into the products as in the decoder plan):
//   qkv (NORM) → encoder_qkv (bias, q/k norm, RoPE) → encoder_attention (causal) → wo (+= x)
//   → gate·up (NORM, GATED) → down (+= x)
// after encoder_embed (the token row), and before encoder_norm (RMS: output_norm) and encoder_pool.
#pragma once
#include "backend/webgpu/plan.h"
#include "gguf/gguf.h"
#include "model/config.h"

namespace tabllm::webgpu {

// The plan of an embedding model (config.is_embedding()) from its header. options.max_batch: tokens per
// pass, up to 16384 (and as many inputs); tok_tile as for decoders; other options are the decoder's and are
// not used. A decoder with what the pass does not run (post-norms, soft caps, sliding windows, a scaled
// embedding, RoPE factors, GELU) is an error that says so.
Plan build_encoder_plan(const gguf::Header& header, const ModelConfig& config, const PlanOptions& options);

}  // namespace tabllm::webgpu
