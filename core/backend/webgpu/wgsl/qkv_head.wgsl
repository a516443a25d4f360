// The per-head work between the Q,K,V product and attention, on heads staged in workgroup memory (`head`,
// WG threads, `red` of WG floats for a norm's sum): the bias (qwen2), the q and k heads' RMSNorm (qwen3,
// gemma3) and RoPE. qkv_post.wgsl runs it for every head of a step's tokens; attention_split.wgsl under
// POST for the one new token, so decode runs no qkv_post dispatch.

// Value i of a head: qkv[src + i] (+ bias[first + i]).
fn staged(src: u32, first: u32, i: u32) -> f32 {
//#if BIAS
  return qkv[src + i] + bias[first + i];
//#else
  return qkv[src + i];
//#endif
}

// head[at + i] = staged(src, first, i), i < n.
fn stage_head(at: u32, src: u32, first: u32, n: u32, tid: u32) {
  for (var i = tid; i < n; i += WG) { head[at + i] = staged(src, first, i); }
}

// The same for heads of hd values rotated by RoPE at `pos` (rope_heads), without staging them first: a thread
// loads both values of a pair and their (cos, sin) at once, so no barrier and no second round trip lie
// between the loads and the rotation (heads with no q/k norm).
fn stage_rotated(at: u32, src: u32, first: u32, n: u32, hd: u32, pairs: u32, halves: u32, pos: u32, tid: u32) {
  for (var i = tid; i < n; i += WG) {
    if (i % hd >= 2u * pairs) { head[at + i] = staged(src, first, i); }  // past the rotated dimensions
  }
  for (var j = tid; j < (n / hd) * pairs; j += WG) {
    let i = j % pairs;
    let h0 = (j / pairs) * hd;
    let a = h0 + select(2u * i, i, halves == 1u);
    let b = h0 + select(2u * i + 1u, i + pairs, halves == 1u);
    let cs = rope[pos * pairs + i];
    let x0 = staged(src, first, a);
    let x1 = staged(src, first, b);
    head[at + a] = x0 * cs.x - x1 * cs.y;
    head[at + b] = x0 * cs.y + x1 * cs.x;
  }
}

//#if QKNORM
// RMS-normalizes `heads` heads of hd values from head[at] by qknorm[norm_at ..]. Call in uniform control flow.
fn norm_heads(at: u32, heads: u32, hd: u32, norm_at: u32, eps: f32, tid: u32) {
  for (var h = 0u; h < heads; h++) {
    let h0 = at + h * hd;
    var ss = 0.0;
    for (var i = tid; i < hd; i += WG) { ss += head[h0 + i] * head[h0 + i]; }
    red[tid] = ss;
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      workgroupBarrier();
      if (tid < s) { red[tid] += red[tid + s]; }
    }
    workgroupBarrier();
    let scale = inverseSqrt(red[0] / f32(hd) + eps);
    workgroupBarrier();
    for (var i = tid; i < hd; i += WG) { head[h0 + i] = head[h0 + i] * scale * qknorm[norm_at + i]; }
  }
}
//#endif

// Rotates `heads` heads of hd values from head[at] by RoPE at `pos`: `pairs` pairs, (i, i + pairs) when
// `halves` is 1 (neox), else (2i, 2i + 1); dimensions past 2 * pairs stay.
fn rope_heads(at: u32, heads: u32, hd: u32, pairs: u32, halves: u32, pos: u32, tid: u32) {
  for (var j = tid; j < heads * pairs; j += WG) {
    let i = j % pairs;
    let h0 = at + (j / pairs) * hd;
    let a = h0 + select(2u * i, i, halves == 1u);
    let b = h0 + select(2u * i + 1u, i + pairs, halves == 1u);
    let cs = rope[pos * pairs + i];
    let x0 = head[a];
    let x1 = head[b];
    head[a] = x0 * cs.x - x1 * cs.y;
    head[b] = x0 * cs.y + x1 * cs.x;
  }
}
