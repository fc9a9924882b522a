// Small SIMD helpers shared by the kernels. `fma` is fused in the relaxed build (one source, two builds:
// the compiler folds the ASC_FEATURE_RELAXED_SIMD branch away).

// @ts-ignore: decorator
@inline
export function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline
export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline
export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/**
 * exp on 4 lanes (Cephes expf: range reduction by ln 2, degree-5 polynomial; about 2 ulp).
 * Inputs above 88.72 give +inf, below -87.33 give 0 (the reference gives denormals there).
 * pmin/pmax (one instruction each; a NaN input passes through) and the 1.5 * 2^23 rounding trick
 * keep it short: V8 expands f32x4.min/max and float-to-int conversions into long sequences.
 */
// @ts-ignore: decorator
@inline
export function vexp(x: v128): v128 {
  const hi = f32x4.gt(x, f32x4.splat(88.72283)); // overflow lanes
  const lo = f32x4.lt(x, f32x4.splat(-87.33654)); // underflow lanes
  let t = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.33654)), f32x4.splat(88.37626));
  // n = round(t / ln 2): adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits.
  const magic = f32x4.splat(12582912.0);
  const nm = f32x4.add(f32x4.mul(t, f32x4.splat(1.44269504088896341)), magic);
  const n = f32x4.sub(nm, magic);
  t = f32x4.sub(t, f32x4.mul(n, f32x4.splat(0.693359375)));
  t = f32x4.sub(t, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = fma(p, t, f32x4.splat(1.3981999507e-3));
  p = fma(p, t, f32x4.splat(8.3334519073e-3));
  p = fma(p, t, f32x4.splat(4.1665795894e-2));
  p = fma(p, t, f32x4.splat(1.6666665459e-1));
  p = fma(p, t, f32x4.splat(5.0000001201e-1));
  p = fma(p, f32x4.mul(t, t), f32x4.add(t, f32x4.splat(1)));
  // 2^n: the integer n sits in the low bits of nm; (n + 127) << 23 is its float exponent field.
  const e = i32x4.shl(i32x4.sub(nm, i32x4.splat(0x4b400000 - 127)), 23);
  let r = f32x4.mul(p, e);
  r = v128.bitselect(f32x4.splat(Infinity), r, hi);
  r = v128.andnot(r, lo);
  // NaN stays NaN: pmin/pmax pass it through, and neither mask is set for NaN.
  return r;
}

/** tanh on 4 lanes: Cephes tanhf (odd polynomial below 0.625, else 1 - 2 / (exp(2|x|) + 1)). */
// @ts-ignore: decorator
@inline
export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const one = f32x4.splat(1);
  const e = vexp(f32x4.add(ax, ax));
  let big = f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(e, one)));
  big = v128.or(big, v128.and(x, i32x4.splat(0x80000000))); // copy the sign of x
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = fma(p, z, f32x4.splat(2.06390887954e-2));
  p = fma(p, z, f32x4.splat(-5.37397155531e-2));
  p = fma(p, z, f32x4.splat(1.33314422036e-1));
  p = fma(p, z, f32x4.splat(-3.33332819422e-1));
  const small = fma(f32x4.mul(p, z), x, x);
  return v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(0.625)));
}

/** 1 / (1 + exp(-x)) on 4 lanes. */
// @ts-ignore: decorator
@inline
export function vsigmoid(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, vexp(f32x4.neg(x))));
}
