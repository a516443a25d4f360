;; The prefill tile of the WebAssembly CPU kernels with relaxed SIMD (core/backend/cpu/kernels_wasm_relaxed.cpp,
;; SimdLevel::WasmRelaxed): 4 weight rows of a panel times every token. Emscripten's compiler cannot emit
;; relaxed SIMD, so this module is assembled apart (wat2wasm --enable-relaxed-simd), imports the engine's
;; memory, and is called through wasm/relaxed_simd.js.
;;
;; i16x8.dot_i8x16_i7x16_s multiplies 16 signed bytes (the activations, int8) by 16 bytes of 0-127 (the
;; weights' unsigned quants) and adds neighbours: 16 products an instruction where SIMD128's
;; i32x4.dot_i16x8_s does 8. The 4 rows sit in the lanes: a weight vector holds 4 values of each row (a
;; chunk), and the token's 4 values of that chunk are one 32-bit splat, so a row's sum needs no reduction
;; across lanes. int16 lanes add up to 8 products of quants below 32 (tile32: Q4 and Q5 formats) or 4 of
;; quants below 64 (tile16: the formats with a scale per 16 values, Q6_K's 6 bits) before they widen:
;; 8 * 31 * 127 and 4 * 63 * 127 stay below 2^15.
;;
;; tile32 / tile16: units of U = 32 / 16 values, each with its own scale and min.
;;   wq  the rows' quants: unit u, chunk c (values 4c .. 4c + 3 of the unit), row r at wq + (U/4 u + c) * 16 + 4 r
;;   ws  unit u: the 4 rows' scales (floats) at ws + 32 u, their mins at ws + 32 u + 16
;;   x   the activations (int8): token t, unit u at x + t * stride + U u, in the order of wq's values
;;   d   per unit u and token t, the activations' scale at d + u * scale_stride + 4 t; sum: d * sum(q), alike
;;   out token t: the 4 rows' results (f32x4) at out + 16 t
;; out(t, r) = sum over units of scale(u, r) * d(u, t) * dot(u, r, t) + min(u, r) * sum(u, t)
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; A known product, so that the host can check the engine computes relaxed dots exactly as above.
  (func (export "probe") (result i32)
    (i32x4.extract_lane 0 (i32x4.extadd_pairwise_i16x8_s (i16x8.dot_i8x16_i7x16_s
      (v128.const i8x16 -128 127 -3 4 0 0 0 0 0 0 0 0 0 0 0 0) (v128.const i8x16 127 127 5 6 0 0 0 0 0 0 0 0 0 0 0 0)))))

  ;; out[t] = 0 for the n_tokens tokens.
  (func $clear (param $out i32) (param $n_tokens i32)
    (loop $token
      (v128.store (local.get $out) (v128.const i32x4 0 0 0 0))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br_if $token (local.tee $n_tokens (i32.sub (local.get $n_tokens) (i32.const 1))))))

  (func (export "tile32") (param $wq i32) (param $ws i32) (param $x i32) (param $stride i32) (param $d i32) (param $sum i32)
        (param $scale_stride i32) (param $n_units i32) (param $n_tokens i32) (param $out i32)
    (local $xt i32) (local $dt i32) (local $st i32) (local $ot i32) (local $t i32) (local $scale v128) (local $min v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128) (local $w4 v128) (local $w5 v128) (local $w6 v128) (local $w7 v128)
    (call $clear (local.get $out) (local.get $n_tokens))
    (loop $unit
      (local.set $w0 (v128.load offset=0 (local.get $wq)))
      (local.set $w1 (v128.load offset=16 (local.get $wq)))
      (local.set $w2 (v128.load offset=32 (local.get $wq)))
      (local.set $w3 (v128.load offset=48 (local.get $wq)))
      (local.set $w4 (v128.load offset=64 (local.get $wq)))
      (local.set $w5 (v128.load offset=80 (local.get $wq)))
      (local.set $w6 (v128.load offset=96 (local.get $wq)))
      (local.set $w7 (v128.load offset=112 (local.get $wq)))
      (local.set $scale (v128.load (local.get $ws)))
      (local.set $min (v128.load offset=16 (local.get $ws)))
      (local.set $xt (local.get $x))
      (local.set $dt (local.get $d))
      (local.set $st (local.get $sum))
      (local.set $ot (local.get $out))
      (local.set $t (local.get $n_tokens))
      (loop $token
        (v128.store (local.get $ot) (f32x4.add (v128.load (local.get $ot)) (f32x4.add
          (f32x4.mul
            (f32x4.convert_i32x4_s (i32x4.add
              (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                (i16x8.add (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=0 (local.get $xt)) (local.get $w0))
                           (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=4 (local.get $xt)) (local.get $w1)))
                (i16x8.add (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=8 (local.get $xt)) (local.get $w2))
                           (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=12 (local.get $xt)) (local.get $w3)))))
              (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                (i16x8.add (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=16 (local.get $xt)) (local.get $w4))
                           (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=20 (local.get $xt)) (local.get $w5)))
                (i16x8.add (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=24 (local.get $xt)) (local.get $w6))
                           (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=28 (local.get $xt)) (local.get $w7)))))))
            (f32x4.mul (local.get $scale) (v128.load32_splat (local.get $dt))))
          (f32x4.mul (local.get $min) (v128.load32_splat (local.get $st))))))
        (local.set $xt (i32.add (local.get $xt) (local.get $stride)))
        (local.set $dt (i32.add (local.get $dt) (i32.const 4)))
        (local.set $st (i32.add (local.get $st) (i32.const 4)))
        (local.set $ot (i32.add (local.get $ot) (i32.const 16)))
        (br_if $token (local.tee $t (i32.sub (local.get $t) (i32.const 1)))))
      (local.set $wq (i32.add (local.get $wq) (i32.const 128)))
      (local.set $ws (i32.add (local.get $ws) (i32.const 32)))
      (local.set $x (i32.add (local.get $x) (i32.const 32)))
      (local.set $d (i32.add (local.get $d) (local.get $scale_stride)))
      (local.set $sum (i32.add (local.get $sum) (local.get $scale_stride)))
      (br_if $unit (local.tee $n_units (i32.sub (local.get $n_units) (i32.const 1))))))

  (func (export "tile16") (param $wq i32) (param $ws i32) (param $x i32) (param $stride i32) (param $d i32) (param $sum i32)
        (param $scale_stride i32) (param $n_units i32) (param $n_tokens i32) (param $out i32)
    (local $xt i32) (local $dt i32) (local $st i32) (local $ot i32) (local $t i32) (local $scale v128) (local $min v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (call $clear (local.get $out) (local.get $n_tokens))
    (loop $unit
      (local.set $w0 (v128.load offset=0 (local.get $wq)))
      (local.set $w1 (v128.load offset=16 (local.get $wq)))
      (local.set $w2 (v128.load offset=32 (local.get $wq)))
      (local.set $w3 (v128.load offset=48 (local.get $wq)))
      (local.set $scale (v128.load (local.get $ws)))
      (local.set $min (v128.load offset=16 (local.get $ws)))
      (local.set $xt (local.get $x))
      (local.set $dt (local.get $d))
      (local.set $st (local.get $sum))
      (local.set $ot (local.get $out))
      (local.set $t (local.get $n_tokens))
      (loop $token
        (v128.store (local.get $ot) (f32x4.add (v128.load (local.get $ot)) (f32x4.add
          (f32x4.mul
            (f32x4.convert_i32x4_s (i32x4.add
              (i32x4.extadd_pairwise_i16x8_s
                (i16x8.add (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=0 (local.get $xt)) (local.get $w0))
                           (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=4 (local.get $xt)) (local.get $w1))))
              (i32x4.extadd_pairwise_i16x8_s
                (i16x8.add (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=8 (local.get $xt)) (local.get $w2))
                           (i16x8.dot_i8x16_i7x16_s (v128.load32_splat offset=12 (local.get $xt)) (local.get $w3))))))
            (f32x4.mul (local.get $scale) (v128.load32_splat (local.get $dt))))
          (f32x4.mul (local.get $min) (v128.load32_splat (local.get $st))))))
        (local.set $xt (i32.add (local.get $xt) (local.get $stride)))
        (local.set $dt (i32.add (local.get $dt) (i32.const 4)))
        (local.set $st (i32.add (local.get $st) (i32.const 4)))
        (local.set $ot (i32.add (local.get $ot) (i32.const 16)))
        (br_if $token (local.tee $t (i32.sub (local.get $t) (i32.const 1)))))
      (local.set $wq (i32.add (local.get $wq) (i32.const 64)))
      (local.set $ws (i32.add (local.get $ws) (i32.const 32)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $d (i32.add (local.get $d) (local.get $scale_stride)))
      (local.set $sum (i32.add (local.get $sum) (local.get $scale_stride)))
      (br_if $unit (local.tee $n_units (i32.sub (local.get $n_units) (i32.const 1)))))))
