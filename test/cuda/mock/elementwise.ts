/**
 * Host versions of the kernels of elementwise.cu and movement.cu for the mock driver: the same
 * op codes, the same structs read back from the packed argument block (so a struct laid out wrong
 * by the host reads wrong here too) and the same index arithmetic, element by element.
 */

import { BINARY_FNS, UNARY_FNS } from '../../../src/backends/ref/kernels/elementwise.js';
import { BINARY_OPS, UNARY_OPS } from '../../../src/core/op-spec.js';
import type { MockKernel } from './driver.js';

const i64 = (v: DataView, at: number) => Number(v.getBigInt64(at, true));

/** A struct of `rank` then `arrays` arrays of `maxRank` int64, from offset `at` of the block. */
function readStruct(v: DataView, at: number, maxRank: number, arrays: number) {
  const rank = v.getInt32(at, true);
  if (rank < 0 || rank > maxRank) throw new Error(`mock: struct rank ${rank} is out of [0, ${maxRank}]`);
  const arr = (k: number) => Array.from({ length: rank }, (_, d) => i64(v, at + 8 + 8 * (k * maxRank + d)));
  return {
    rank,
    arrays: Array.from({ length: arrays }, (_, k) => arr(k)),
    end: at + 8 + 8 * arrays * maxRank,
  };
}

/** Offsets of element i under each stride set (elementwise.cu `offsets`, movement.cu's loop). */
function offsetsOf(shape: number[], strides: number[][], i: number, base: number[]): number[] {
  const o = [...base];
  for (let d = shape.length - 1; d >= 0; d--) {
    const c = i % shape[d];
    i = Math.floor(i / shape[d]);
    strides.forEach((s, k) => (o[k] += c * s[d]));
  }
  return o;
}

/** elementwise.cu's binary_i32_op: the ops in double, written out (not the reference's table). */
const I32_FNS: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: (a, b) => Math.max(a, b),
  greater: (a, b) => (a > b ? 1 : 0),
  equal: (a, b) => (a === b ? 1 : 0),
};

/** ECMAScript ToInt32 written as elementwise.cu's to_int32_js. */
function toInt32Js(x: number): number {
  if (!Number.isFinite(x)) return 0;
  const t = Math.trunc(x);
  if (t >= -2147483648 && t <= 2147483647) return t;
  let m = t % 4294967296;
  if (m < 0) m += 4294967296;
  return m | 0;
}

export const MOCK_ELEMENTWISE_KERNELS: Record<string, MockKernel> = {
  unary_f32: (mem, [x, y, n, op]) => {
    const f = UNARY_FNS[UNARY_OPS[op]];
    const a = mem.f32(x, n);
    const out = mem.f32(y, n);
    for (let i = 0; i < n; i++) out[i] = f(a[i]);
  },
  binary_f32: (mem, [a, b, y, n, op, s], _cfg, v) => {
    const { arrays } = readStruct(v, s, 6, 4);
    const [shape, sa, sb] = arrays;
    const f = BINARY_FNS[BINARY_OPS[op]];
    const out = mem.f32(y, n);
    const av = mem.f32(a, 1 + maxOffset(shape, sa));
    const bv = mem.f32(b, 1 + maxOffset(shape, sb));
    for (let i = 0; i < n; i++) {
      const [oa, ob] = offsetsOf(shape, [sa, sb], i, [0, 0]);
      out[i] = f(av[oa], bv[ob]);
    }
  },
  binary_i32: (mem, [a, b, y, n, op, s], _cfg, v) => {
    const [shape, sa, sb] = readStruct(v, s, 6, 4).arrays;
    const f = I32_FNS[BINARY_OPS[op]];
    const out = mem.i32(y, n);
    const av = mem.i32(a, 1 + maxOffset(shape, sa));
    const bv = mem.i32(b, 1 + maxOffset(shape, sb));
    for (let i = 0; i < n; i++) {
      const [oa, ob] = offsetsOf(shape, [sa, sb], i, [0, 0]);
      out[i] = toInt32Js(f(av[oa], bv[ob]));
    }
  },
  compare_i32: (mem, [a, b, y, n, op, s], _cfg, v) => {
    const [shape, sa, sb] = readStruct(v, s, 6, 4).arrays;
    const f = I32_FNS[BINARY_OPS[op]];
    const out = mem.f32(y, n);
    const av = mem.i32(a, 1 + maxOffset(shape, sa));
    const bv = mem.i32(b, 1 + maxOffset(shape, sb));
    for (let i = 0; i < n; i++) {
      const [oa, ob] = offsetsOf(shape, [sa, sb], i, [0, 0]);
      out[i] = f(av[oa], bv[ob]);
    }
  },
  // values as 32-bit words (Int32Array views), the condition read as its dtype
  where_32: (mem, [c, a, b, y, n, condInt, s], _cfg, v) => {
    const [shape, sc, sa, sb] = readStruct(v, s, 6, 4).arrays;
    const out = mem.i32(y, n);
    const cn = 1 + maxOffset(shape, sc);
    const cv = condInt ? mem.i32(c, cn) : mem.f32(c, cn);
    const av = mem.i32(a, 1 + maxOffset(shape, sa));
    const bv = mem.i32(b, 1 + maxOffset(shape, sb));
    for (let i = 0; i < n; i++) {
      const [oc, oa, ob] = offsetsOf(shape, [sc, sa, sb], i, [0, 0, 0]);
      out[i] = cv[oc] !== 0 ? av[oa] : bv[ob];
    }
  },
  cast_f32_i32: (mem, [x, y, n]) => {
    const a = mem.f32(x, n);
    const out = mem.i32(y, n);
    for (let i = 0; i < n; i++) out[i] = toInt32Js(a[i]);
  },
  cast_i32_f32: (mem, [x, y, n]) => {
    const a = mem.i32(x, n);
    const out = mem.f32(y, n);
    for (let i = 0; i < n; i++) out[i] = a[i];
  },
  // 32-bit words through Int32Array views, so NaN payloads move bit for bit as on the device
  strided_copy_32: (mem, [x, y, n, s], _cfg, v) => {
    const st = readStruct(v, s, 8, 3);
    const [shape, xs, ys] = st.arrays;
    const base = [i64(v, st.end), i64(v, st.end + 8)];
    if (n === 0) return;
    const xv = mem.i32(x, base[0] + maxOffset(shape, xs) + 1);
    const yv = mem.i32(y, base[1] + maxOffset(shape, ys) + 1);
    for (let i = 0; i < n; i++) {
      const [xo, yo] = offsetsOf(shape, [xs, ys], i, base);
      yv[yo] = xv[xo];
    }
  },
};

/** The largest offset a stride set reaches over `shape` (so the view checks the whole extent). */
function maxOffset(shape: number[], strides: number[]): number {
  return shape.reduce((m, d, i) => m + (d > 0 ? (d - 1) * strides[i] : 0), 0);
}
