// The step buffer, written once per forward call: [n_tokens, pos, 0, 0, token ids...]. Kernels that read
// it declare `step` at binding 1.
fn step_n_tokens() -> u32 { return step[0]; }
fn step_pos() -> u32 { return step[1]; }
fn step_token(t: u32) -> u32 { return step[4u + t]; }
