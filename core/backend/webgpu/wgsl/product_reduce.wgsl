// The workgroup reduction of the row kernels (matmul, matvec): K values per thread, summed over the
// workgroup; reduced(k) is value k's total once the kernel has written its partials and passed a barrier.
// (matvec's TOKENS variant reduces its own way.)
//#ifnot TOKENS
//#if SUBGROUPS
// One partial per subgroup and slot (subgroups have at least 4 invocations). Subgroup i is taken to hold
// invocations [i * size, (i + 1) * size), as every implementation lays out a one-dimensional workgroup.
const MAXSG: u32 = (WG + 3u) / 4u;
var<workgroup> red: array<f32, MAXSG * K>;
var<private> n_subgroups: u32;
fn reduced(k: u32) -> f32 {
  var v = 0.0;
  for (var s = 0u; s < n_subgroups; s++) { v += red[k * MAXSG + s]; }
  return v;
}
//#else
var<workgroup> red: array<f32, WG * K>;
fn reduced(k: u32) -> f32 { return red[k * WG]; }
//#endif
//#endif
