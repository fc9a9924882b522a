// Sum and max over a contiguous run of axes: x viewed as [outer, mid, inner], reduced over mid.
// inner == 1 is a row reduction (softmax, norms); inner > 1 sums rows into one (bias gradients).
import { hmax, hsum } from './simd';

const SUM = 0;

// @ts-ignore: decorator
@inline
function comb(op: i32, a: v128, b: v128): v128 {
  return op == SUM ? f32x4.add(a, b) : f32x4.max(a, b);
}

// @ts-ignore: decorator
@inline
function reduceRow(op: i32, x: usize, n: i32): f32 {
  const init = op == SUM ? f32x4.splat(0) : f32x4.splat(-Infinity);
  // Four independent accumulators: latency hiding, and shorter float sum chains.
  let s0 = init, s1 = init, s2 = init, s3 = init;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    s0 = comb(op, s0, v128.load(p));
    s1 = comb(op, s1, v128.load(p, 16));
    s2 = comb(op, s2, v128.load(p, 32));
    s3 = comb(op, s3, v128.load(p, 48));
  }
  for (; i + 4 <= n; i += 4) s0 = comb(op, s0, v128.load(x + (<usize>i << 2)));
  const v = comb(op, comb(op, s0, s1), comb(op, s2, s3));
  let r: f32 = op == SUM ? hsum(v) : hmax(v);
  for (; i < n; i++) {
    const e = load<f32>(x + (<usize>i << 2));
    r = op == SUM ? r + e : max(r, e);
  }
  return r;
}

// @ts-ignore: decorator
@inline
function reduceLoop(op: i32, x: usize, y: usize, outer: i32, mid: i32, inner: i32): void {
  if (inner == 1) {
    for (let o = 0; o < outer; o++) store<f32>(y + (<usize>o << 2), reduceRow(op, x + (<usize>(o * mid) << 2), mid));
    return;
  }
  const rowBytes = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    const dst = y + <usize>o * rowBytes;
    const src = x + <usize>(o * mid) * rowBytes;
    if (mid == 0) {
      for (let j = 0; j < inner; j++) store<f32>(dst + (<usize>j << 2), op == SUM ? 0 : -Infinity);
      continue;
    }
    memory.copy(dst, src, rowBytes);
    for (let m = 1; m < mid; m++) {
      const row = src + <usize>m * rowBytes;
      let j = 0;
      for (; j + 4 <= inner; j += 4) {
        const q = <usize>j << 2;
        v128.store(dst + q, comb(op, v128.load(dst + q), v128.load(row + q)));
      }
      for (; j < inner; j++) {
        const q = <usize>j << 2;
        const a = load<f32>(dst + q);
        const b = load<f32>(row + q);
        store<f32>(dst + q, op == SUM ? a + b : max(a, b));
      }
    }
  }
}

/** y[o, j] = sum or max over m of x[o, m, j]; op 0 = sum, 1 = max. */
export function reduce(op: i32, x: usize, y: usize, outer: i32, mid: i32, inner: i32): void {
  if (op == SUM) reduceLoop(SUM, x, y, outer, mid, inner);
  else reduceLoop(1, x, y, outer, mid, inner);
}
