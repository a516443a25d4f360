// A unit of 32 values of x rounded to 8-bit integers on one scale d = max |v| / 127 (as the CPU's SIMD
// kernels and llama.cpp do): the integers 4 a word, the sums of each half of them, and d. matvec.wgsl's DOT8
// rounds x so in each workgroup; quantize_x.wgsl once per product for its several-token variant.
struct QUnit {
  q: array<u32, 8>,
  sums: vec2<f32>,
  d: f32,
}

// Unit u of the token whose x row starts at vec4 `xbase`, times the norm's weights under NORM, and the
// sum of squares of x before them (NORM): what matvec's x_unit and quantize_x round. (Not where binding 2
// is the rounded `xq`: matvec's TOKENS.)
//#ifnot TOKENS
struct XLoad {
  v: array<vec4<f32>, 8>,
  squares: f32,
}

fn load_unit(xbase: u32, u: u32) -> XLoad {
  var out: XLoad;
  for (var i = 0u; i < 8u; i++) {
    var v = x[xbase + 8u * u + i];
//#if NORM
    out.squares += dot(v, v);
    v *= gnorm[8u * u + i];
//#endif
    out.v[i] = v;
  }
  return out;
}
//#endif

//#if DOT8
fn quantize_unit(xv: array<vec4<f32>, 8>) -> QUnit {
  var amax = vec4<f32>(0.0);
  for (var i = 0u; i < 8u; i++) { amax = max(amax, abs(xv[i])); }
  let m = max(max(amax.x, amax.y), max(amax.z, amax.w));
  let inv = select(0.0, 127.0 / m, m > 0.0);
  var q: array<u32, 8>;
  var qsum = vec2<i32>(0);
  for (var i = 0u; i < 8u; i++) {
    q[i] = pack4xI8(vec4<i32>(round(xv[i] * inv)));
    qsum[i / 4u] += dot4I8Packed(q[i], 0x01010101u);
  }
  return QUnit(q, vec2<f32>(qsum), m / 127.0);
}
//#endif
