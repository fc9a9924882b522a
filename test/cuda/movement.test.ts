/**
 * The movement ops on the CUDA backend (mock driver) against the reference kernels: permute, slice,
 * broadcastTo, concat and pad through movement.cu's strided copy, cast through elementwise.cu, on
 * drawn shapes of rank 1 to 9 (empty axes included), float32 and int32, and their edge cases.
 * The strided-copy cases run twice: on the kernel's TypeScript host version, and on movement.cu
 * itself built for the host by g++ (host-build.ts), so the device source is checked without a GPU.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldView } from '../../src/backends/cuda/movement.js';
import type { OpName, OpParams } from '../../src/core/op-spec.js';
import { draws, randoms } from './helpers.js';
import { hostMovementKernels } from './host-build.js';
import { type CheckOptions, checkOp as check, type HostTensor } from './op-check.js';

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const floats = (shape: number[], seed: number): HostTensor => ({
  data: randoms(seed, size(shape), 4),
  shape,
});
const ints = (shape: number[], seed: number): HostTensor => ({
  data: Int32Array.from(randoms(seed, size(shape)), (v) => Math.round(v * 2 ** 30)),
  shape,
});
/** A shape of the given rank; an axis is empty with probability ~1/12. */
const shapeOf = (d: ReturnType<typeof draws>, rank: number, hi = 5) =>
  Array.from({ length: rank }, () => (d.int(0, 11) === 0 ? 0 : d.int(1, hi)));
const copyKernel = { kernels: ['strided_copy_32'] };

const host = hostMovementKernels();
const SOURCES = [
  { name: 'the TypeScript host version of strided_copy_32', mock: {}, skip: false as const },
  {
    name: 'movement.cu built for the host (g++, AddressSanitizer)',
    mock: typeof host === 'string' ? {} : host,
    skip: typeof host === 'string' ? host : (false as const),
  },
];

for (const src of SOURCES)
  describe(`movement ops on the CUDA backend against ref: ${src.name}`, { skip: src.skip }, () => {
    const checkOp = <K extends OpName>(
      op: K,
      ins: readonly HostTensor[],
      p: OpParams[K],
      what: string,
      o: CheckOptions = {},
    ) => check(op, ins, p, what, { ...o, mock: src.mock });

    it('permute: drawn ranks 1..6 and permutations, float32 and int32', () => {
      for (const seed of SEEDS) {
        const d = draws(seed);
        const shape = shapeOf(d, d.int(1, 6));
        const perm = d.perm(shape.length);
        const x = seed % 3 === 0 ? ints(shape, seed) : floats(shape, seed);
        checkOp('permute', [x], { perm }, `permute ${shape} by ${perm}`, size(shape) ? copyKernel : {});
      }
    });

    it('permute: the DiT patchify (rank 7), its inverse, a transpose of a 1-row matrix, identity', () => {
      const x = floats([16, 3, 1, 2, 2, 2, 2], 1);
      checkOp('permute', [x], { perm: [1, 3, 5, 0, 2, 4, 6] }, 'patchify', copyKernel);
      const y = floats([3, 2, 2, 1, 2, 2, 16], 2);
      checkOp('permute', [y], { perm: [6, 0, 3, 1, 4, 2, 5] }, 'unpatchify', copyKernel);
      checkOp('permute', [floats([1, 9], 3)], { perm: [1, 0] }, 'row transpose', copyKernel);
      checkOp('permute', [floats([2, 3, 4], 4)], { perm: [0, 1, 2] }, 'identity', copyKernel);
    });

    it('permute past 8 axes: folded to fewer where axes merge, else left to the reference', () => {
      // 9 axes whose permutation moves blocks of adjacent axes: folds to 3
      const x = floats([2, 1, 3, 2, 1, 2, 2, 1, 2], 5);
      checkOp('permute', [x], { perm: [5, 6, 7, 8, 2, 3, 4, 0, 1] }, 'foldable rank 9', copyKernel);
      // 9 axes of size 2 reversed: nothing folds, the op declines and the reference runs it
      const r = checkOp(
        'permute',
        [floats(Array(9).fill(2), 6)],
        { perm: [8, 7, 6, 5, 4, 3, 2, 1, 0] },
        'rank 9',
        {
          fallback: ['permute'],
        },
      );
      assert.equal(r.be.fallbacks.get('permute'), 1);
    });

    it('slice: drawn ranges per axis, empty and full ones included', () => {
      for (const seed of SEEDS) {
        const d = draws(seed);
        const shape = shapeOf(d, d.int(1, 5));
        const starts = shape.map((n) => d.int(0, n));
        const ends = shape.map((n, i) => d.int(starts[i], n));
        const x = seed % 4 === 0 ? ints(shape, seed) : floats(shape, seed);
        checkOp('slice', [x], { starts, ends }, `slice ${shape} [${starts}) .. [${ends})`);
      }
      checkOp(
        'slice',
        [floats([4, 6, 5], 9)],
        { starts: [1, 2, 3], ends: [3, 5, 5] },
        'inner block',
        copyKernel,
      );
    });

    it('broadcastTo: size-1 and missing leading axes, scalars', () => {
      for (const seed of SEEDS) {
        const d = draws(seed);
        const out = shapeOf(d, d.int(1, 5));
        const x = out.slice(d.int(0, out.length)).map((n) => (d.int(0, 2) === 0 ? 1 : n));
        checkOp('broadcastTo', [floats(x, seed)], { shape: out }, `broadcastTo ${x} -> ${out}`);
      }
      checkOp('broadcastTo', [floats([], 1)], { shape: [3, 4] }, 'scalar', copyKernel);
      checkOp('broadcastTo', [ints([1, 5, 1], 2)], { shape: [2, 5, 3] }, 'int32 middle', copyKernel);
    });

    it('concat: 1 to 4 inputs on any axis, empty inputs, float32 and int32', () => {
      for (const seed of SEEDS) {
        const d = draws(seed);
        const shape = shapeOf(d, d.int(1, 4));
        const axis = d.int(0, shape.length - 1);
        const make = seed % 5 === 0 ? ints : floats;
        const xs = Array.from({ length: d.int(1, 4) }, (_, k) =>
          make(
            shape.map((n, i) => (i === axis ? d.int(0, 3) : n)),
            seed * 10 + k,
          ),
        );
        checkOp('concat', xs, { axis }, `concat on ${axis} of ${xs.map((x) => `[${x.shape}]`).join(' ')}`);
      }
      checkOp('concat', [floats([5, 64], 1), floats([4, 64], 2)], { axis: 0 }, 'caption rows', copyKernel);
      checkOp(
        'concat',
        [floats([12, 4, 8, 1], 3), floats([12, 4, 8, 1], 4)],
        { axis: 3 },
        'rope halves',
        copyKernel,
      );
    });

    it('pad: drawn pads (zero ones included), fill values, empty inputs, int32', () => {
      for (const seed of SEEDS) {
        const d = draws(seed);
        const shape = shapeOf(d, d.int(1, 4));
        const pads = shape.map(() => [d.int(0, 3), d.int(0, 3)] as [number, number]);
        const value = [0, 1.5, -3, Number.NaN][seed % 4];
        checkOp(
          'pad',
          [floats(shape, seed)],
          { pads, value },
          `pad ${shape} by ${JSON.stringify(pads)} with ${value}`,
        );
      }
      const ints5 = ints([2, 5], 3);
      checkOp(
        'pad',
        [ints5],
        {
          pads: [
            [1, 1],
            [0, 2],
          ],
          value: -1,
        },
        'int32 pad',
        copyKernel,
      );
      checkOp(
        'pad',
        [ints5],
        {
          pads: [
            [0, 1],
            [2, 0],
          ],
          value: 2.7,
        },
        'int32 pad truncates the value',
      );
      checkOp(
        'pad',
        [floats([0, 3], 4)],
        {
          pads: [
            [2, 1],
            [0, 0],
          ],
          value: 9,
        },
        'empty input, all fill',
      );
      checkOp(
        'pad',
        [floats([3, 2], 5)],
        {
          pads: [
            [0, 0],
            [0, 0],
          ],
          value: 9,
        },
        'no padding',
        copyKernel,
      );
    });
  });

describe('movement helpers and casts on the CUDA backend (mock driver)', () => {
  const checkOp = check;
  it('the folded view of a copy: size-1 axes dropped, contiguous runs merged, strides kept', () => {
    assert.deepEqual(
      foldView({ shape: [2, 1, 3, 4], xs: [12, 12, 4, 1], ys: [12, 12, 4, 1], x0: 5, y0: 0 }),
      {
        shape: [24],
        xs: [1],
        ys: [1],
        x0: 5,
        y0: 0,
      },
    );
    // a transpose does not fold; a broadcast axis (stride 0) next to another folds with it
    assert.deepEqual(foldView({ shape: [3, 4], xs: [1, 3], ys: [4, 1], x0: 0, y0: 0 }).shape, [3, 4]);
    assert.deepEqual(foldView({ shape: [2, 3, 4], xs: [0, 0, 1], ys: [12, 4, 1], x0: 0, y0: 0 }), {
      shape: [6, 4],
      xs: [0, 1],
      ys: [4, 1],
      x0: 0,
      y0: 0,
    });
  });

  it('cast float32 <-> int32: truncation, wrap-around past 2^31, NaN and infinities, rounding to float', () => {
    const edge = [0, -0, 1.9, -1.9, 2.5, -2.5, 3e9, -3e9, 2 ** 40 + 3 * 2 ** 20, 2 ** 60, 1e38, -1e38];
    const x = Float32Array.from([...edge, Number.NaN, Infinity, -Infinity, ...randoms(1, 100, 3e9)]);
    checkOp('cast', [{ data: x, shape: [x.length] }], { dtype: 'int32' }, 'f32 -> i32', {
      kernels: ['cast_f32_i32'],
    });
    const i = Int32Array.from([
      0,
      1,
      -1,
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 24 + 1,
      2 ** 24 + 3,
      -(2 ** 25) - 3,
      123456789,
    ]);
    checkOp('cast', [{ data: i, shape: [3, 3] }], { dtype: 'float32' }, 'i32 -> f32', {
      kernels: ['cast_i32_f32'],
    });
    checkOp('cast', [floats([2, 3], 2)], { dtype: 'float32' }, 'f32 -> f32 (a copy)');
    checkOp('cast', [floats([0, 3], 2)], { dtype: 'int32' }, 'empty');
  });
});
