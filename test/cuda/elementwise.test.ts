/**
 * The int32 binary ops (binary_i32, compare_i32) and where over 32-bit words (where_32) on the
 * CUDA backend (mock driver) against the reference kernels: drawn broadcasting shapes with fresh
 * values, and the edges of int32 arithmetic as the reference stores it (wrap past 2^31, products
 * past 2^53, truncated and by-zero division, -2^31 / -1) and of the condition (-0, NaN, int32).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BinaryOp } from '../../src/core/op-spec.js';
import { draws, randoms } from './helpers.js';
import { checkOp, type HostTensor } from './op-check.js';

const SEEDS = Array.from({ length: 30 }, (_, i) => i + 1);
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const I32_OPS: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'greater', 'equal'];

/** Two shapes that broadcast: the output's dims, each input keeping, dropping or setting to 1 each. */
function broadcastPair(d: ReturnType<typeof draws>): [number[], number[]] {
  const out = Array.from({ length: d.int(0, 4) }, () => (d.int(0, 9) === 0 ? 0 : d.int(1, 5)));
  const side = () => out.slice(d.int(0, out.length)).map((n) => (d.int(0, 2) === 0 ? 1 : n));
  return [side(), side()];
}

/** Int32 values: small ones (so equal and ties happen) or anywhere in the range. */
function ints(shape: readonly number[], seed: number, wide: boolean): HostTensor {
  const r = randoms(seed, size(shape));
  return { data: Int32Array.from(r, (x) => (wide ? Math.round(x * 2 ** 31) | 0 : Math.round(x * 4))), shape };
}

const EDGE = [
  0,
  1,
  -1,
  2,
  -2,
  7,
  -7,
  3,
  46341,
  -46341,
  65536,
  2 ** 31 - 1,
  -(2 ** 31),
  123456789,
  -987654321,
];

describe('int32 elementwise ops and where on the CUDA backend (mock driver) against ref', () => {
  it('add, sub, mul, div, maximum, greater, equal on drawn broadcasting int32 shapes', () => {
    for (const seed of SEEDS) {
      const d = draws(seed);
      const [sa, sb] = broadcastPair(d);
      const op = I32_OPS[seed % I32_OPS.length];
      const wide = seed % 3 === 0;
      const kernel = op === 'greater' || op === 'equal' ? 'compare_i32' : 'binary_i32';
      const empty = [...sa, ...sb].includes(0); // nothing to launch
      checkOp(op, [ints(sa, seed, wide), ints(sb, seed + 100, wide)], {}, `${op} [${sa}] [${sb}]`, {
        kernels: empty ? [] : [kernel],
      });
    }
  });

  it('every pair of the int32 edge values under each op', () => {
    const n = EDGE.length;
    const a = { data: Int32Array.from({ length: n * n }, (_, i) => EDGE[Math.floor(i / n)]), shape: [n, n] };
    const b = { data: Int32Array.from(EDGE), shape: [n] };
    for (const op of I32_OPS) checkOp(op, [a, b], {}, `${op} on the edge values`);
  });

  it('pow on int32 still falls back (the wrap would magnify a last-bit difference of pow)', () => {
    const x = { data: Int32Array.from([2, 3, -2, 10]), shape: [4] };
    const { be } = checkOp('pow', [x, x], {}, 'pow int32', { fallback: ['pow'] });
    assert.equal(be.fallbacks.get('pow'), 1);
  });

  it('where with every mix of float32 / int32 condition and branches, broadcasting', () => {
    for (const seed of SEEDS) {
      const d = draws(seed);
      const [sc, sa] = broadcastPair(d);
      const sb = sa.slice(d.int(0, sa.length));
      const intCond = seed % 2 === 0;
      const intVals = seed % 4 < 2;
      const cond: HostTensor = intCond
        ? ints(sc, seed, false)
        : { data: randoms(seed, size(sc)).map((x) => Math.max(x, 0)), shape: sc };
      const val = (s: number[], k: number): HostTensor =>
        intVals ? ints(s, seed + k, true) : { data: randoms(seed + k, size(s), 5), shape: s };
      checkOp('where', [cond, val(sa, 1), val(sb, 2)], {}, `where [${sc}] [${sa}] [${sb}]`);
    }
  });

  it('where: -0 is false, NaN true, int32 conditions, NaN payloads and int32 extremes kept', () => {
    const c = { data: Float32Array.from([0, -0, Number.NaN, 1, -3, Infinity]), shape: [6] };
    const ic = { data: Int32Array.from([0, -1, 2 ** 31 - 1, -(2 ** 31), 0, 1]), shape: [6] };
    const fa = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [6] };
    const fb = { data: Float32Array.from([Number.NaN, -0, Infinity, -Infinity, 9, 10]), shape: [6] };
    const ia = { data: Int32Array.from(EDGE.slice(9, 15)), shape: [6] };
    const ib = { data: Int32Array.from(EDGE.slice(0, 6)), shape: [6] };
    for (const [cond, a, b, what] of [
      [c, fa, fb, 'float cond, float values'],
      [c, ia, ib, 'float cond, int values'],
      [ic, fb, fa, 'int cond, float values'],
      [ic, ia, ib, 'int cond, int values'],
    ] as const)
      checkOp('where', [cond, a, b], {}, what, { kernels: ['where_32'] });
  });
});
