// where, argmax and cast: small kernels, exact to the reference semantics.

/** y[i] = c[i] != 0 ? a[i * as] : b[i * bs] (steps 0 or 1: scalar or full operands). */
export function where(c: usize, a: usize, as: i32, b: usize, bs: i32, y: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const av = v128.load32_splat(a);
  const bv = v128.load32_splat(b);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const x = as ? v128.load(a + o) : av;
    const z = bs ? v128.load(b + o) : bv;
    // Comparing the condition as float: -0 is false, NaN is true (NaN != 0), as in the reference.
    v128.store(y + o, v128.bitselect(x, z, f32x4.ne(v128.load(c + o), zero)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(c + o) != 0 ? load<u32>(a + (as ? o : 0)) : load<u32>(b + (bs ? o : 0));
    store<u32>(y + o, v);
  }
}

/** Index of the first maximum along the middle axis of x [outer, n, inner] -> int32 y [outer, inner]. */
export function argmax(x: usize, y: usize, outer: i32, n: i32, inner: i32): void {
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      let best = 0;
      let bv: f32 = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = load<f32>(x + (<usize>((o * n + i) * inner + j) << 2));
        if (v > bv) {
          bv = v;
          best = i;
        }
      }
      store<i32>(y + (<usize>(o * inner + j) << 2), best);
    }
}

/** float32 -> int32 with JavaScript's ToInt32 (truncate, then wrap modulo 2^32; NaN and inf -> 0). */
export function castF32I32(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    let r: i32 = 0;
    const a = Mathf.abs(v);
    if (a < 2147483648) r = <i32>v;
    else if (a < 36028797018963968) r = <i32><i64>v; // below 2^55: wrap through i64
    // Larger finite values are multiples of 2^32 (0), as are NaN and infinities.
    store<i32>(y + (<usize>i << 2), r);
  }
}

/** int32 -> float32, rounding to nearest. */
export function castI32F32(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.convert_i32x4_s(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, <f32>load<i32>(x + o));
  }
}
