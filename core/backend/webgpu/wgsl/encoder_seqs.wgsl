// Where each token of an encoder batch lies (encoder_plan.h), written by the host with the step buffer:
// [n_inputs, max_batch, 0, 0, per token the first token of its input (max_batch words), per token the
// length of its input (max_batch words), per input its first token (n_inputs + 1 words)]. The encoder
// kernels that read it declare `seqs` at binding 2.
fn seq_inputs() -> u32 { return seqs[0]; }
fn seq_start(t: u32) -> u32 { return seqs[4u + t]; }
fn seq_length(t: u32) -> u32 { return seqs[4u + seqs[1] + t]; }
fn seq_position(t: u32) -> u32 { return t - seq_start(t); }
fn input_first(i: u32) -> u32 { return seqs[4u + 2u * seqs[1] + i]; }
