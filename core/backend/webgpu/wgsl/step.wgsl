// The step buffer, written once per forward call: [n_tokens, pos, chained, 0, token ids...]. Kernels that
// read it declare `step` at binding 1. chained = 1: the single input token is the one the previous step
// sampled on the GPU (read by the embedding from the result buffer), so the host can submit the next step
// before it has read the last one back.
fn step_n_tokens() -> u32 { return step[0]; }
fn step_pos() -> u32 { return step[1]; }
fn step_token(t: u32) -> u32 { return step[4u + t]; }
fn step_chained() -> bool { return step[2] == 1u; }
