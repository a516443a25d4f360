// Reductions over a workgroup of WG threads (a power of two), through `red`; each is called by every thread
// of the workgroup, in uniform control flow, and leaves `red` free for the next.
var<workgroup> red: array<f32, WG>;

//#if SUBGROUPS
// Each subgroup reduces in registers, then its first invocation writes one partial (subgroup i holds
// invocations [i * size, (i + 1) * size), as every implementation lays out a one-dimensional workgroup):
// 2 barriers a reduction where the tree takes log2(WG) + 2. The kernel sets `lane` and `sg_size` from its
// builtins first.
var<private> lane: u32;
var<private> sg_size: u32;

fn workgroup_sum(v: f32, tid: u32) -> f32 {
  let r = subgroupAdd(v);
  if (lane == 0u) { red[tid / sg_size] = r; }
  workgroupBarrier();
  var total = red[0];
  for (var i = 1u; i < (WG + sg_size - 1u) / sg_size; i++) { total += red[i]; }
  workgroupBarrier();
  return total;
}

fn workgroup_max(v: f32, tid: u32) -> f32 {
  let r = subgroupMax(v);
  if (lane == 0u) { red[tid / sg_size] = r; }
  workgroupBarrier();
  var m = red[0];
  for (var i = 1u; i < (WG + sg_size - 1u) / sg_size; i++) { m = max(m, red[i]); }
  workgroupBarrier();
  return m;
}
//#else
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
//#endif
