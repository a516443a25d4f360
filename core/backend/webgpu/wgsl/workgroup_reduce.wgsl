// Reductions over a workgroup of WG threads (a power of two), through `red`; each is called by every thread
// of the workgroup, in uniform control flow, and leaves `red` free for the next.
var<workgroup> red: array<f32, WG>;

fn workgroup_sum(v: f32, tid: u32) -> f32 {
  red[tid] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (tid < s) { red[tid] += red[tid + s]; }
  }
  workgroupBarrier();
  let total = red[0];
  workgroupBarrier();
  return total;
}

fn workgroup_max(v: f32, tid: u32) -> f32 {
  red[tid] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (tid < s) { red[tid] = max(red[tid], red[tid + s]); }
  }
  workgroupBarrier();
  let m = red[0];
  workgroupBarrier();
  return m;
}
