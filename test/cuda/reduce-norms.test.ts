/**
 * The reductions and norm gradients on the CUDA backend (mock driver) against the reference
 * kernels: argmax along any axis (ties, NaN, -inf, an empty axis), sum and max over any set of axes
 * (the non-trailing ones through a strided copy first), and layerNorm / rmsNorm backward (dx per
 * row; dweight, dbias as column sums over chunks of rows, many chunks included).
 */
import { describe, it } from 'node:test';
import { REF_KERNELS } from '../../src/backends/ref/kernels/index.js';
import { draws, randoms } from './helpers.js';
import { checkOp, type HostTensor } from './op-check.js';

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const floats = (shape: number[], seed: number, scale = 2): HostTensor => ({
  data: randoms(seed, size(shape), scale),
  shape,
});
const shapeOf = (d: ReturnType<typeof draws>, rank: number, hi = 6) =>
  Array.from({ length: rank }, () => (d.int(0, 11) === 0 ? 0 : d.int(1, hi)));

describe('reductions and norm gradients on the CUDA backend (mock driver) against ref', () => {
  it('argmax along each axis of drawn shapes; ties, NaN, -inf and an empty axis', () => {
    for (const seed of SEEDS) {
      const d = draws(seed);
      const shape = shapeOf(d, d.int(1, 4));
      const axis = d.int(0, shape.length - 1);
      // few distinct values, so ties are common
      const x = floats(shape, seed);
      if (seed % 2) x.data.forEach((v, i) => (x.data[i] = Math.round(v)));
      checkOp('argmax', [x], { axis }, `argmax ${shape} on ${axis}`);
    }
    const edge = Float32Array.from([
      1,
      3,
      3,
      Number.NaN,
      2,
      3,
      Number.NaN,
      1,
      -Infinity,
      -Infinity,
      -Infinity,
      -Infinity,
    ]);
    checkOp('argmax', [{ data: edge, shape: [3, 4] }], { axis: 1 }, 'rows: ties / NaN first / -inf', {
      kernels: ['argmax_axis'],
    });
    checkOp('argmax', [{ data: edge, shape: [3, 4] }], { axis: 0 }, 'columns');
    checkOp('argmax', [floats([3, 0, 2], 1)], { axis: 1 }, 'empty axis: index 0');
    checkOp('argmax', [floats([12, 4], 2)], { axis: 1 }, 'router groups');
  });

  it('sum and max over drawn axis sets, keepDims, NaN through max, empty reductions', () => {
    for (const seed of SEEDS) {
      const d = draws(seed);
      const shape = shapeOf(d, d.int(1, 5));
      const axes = d.perm(shape.length).slice(0, d.int(1, shape.length));
      const keepDims = seed % 2 === 0;
      const x = floats(shape, seed);
      if (seed % 3 === 0 && x.data.length) x.data[seed % x.data.length] = Number.NaN;
      for (const op of ['sum', 'max'] as const)
        checkOp(op, [x], { axes, keepDims }, `${op} ${shape} over ${axes}`, { rtol: 1e-5, atol: 1e-5 });
    }
    // the bias gradient of a linear layer: the leading axis, through a copy then reduce_rows
    checkOp('sum', [floats([300, 64], 3)], { axes: [0], keepDims: true }, 'bias grad', {
      rtol: 1e-5,
      atol: 1e-4,
      kernels: ['strided_copy_32', 'reduce_rows'],
    });
    checkOp('max', [floats([2, 0, 3], 4)], { axes: [1], keepDims: false }, 'max over an empty axis');
    checkOp('sum', [floats([2, 0, 3], 4)], { axes: [0, 1], keepDims: true }, 'sum over an empty axis');
  });

  for (const norm of ['layerNorm', 'rmsNorm'] as const)
    it(`${norm} backward: rows 0, 1, 7, 1000 (many chunks), widths 1, 33, 64, 100, leading axes`, () => {
      const shapes = [
        [0, 33],
        [1, 1],
        [7, 64],
        [1000, 33],
        [2, 3, 100],
        [4, 65],
        [5, 0],
      ];
      shapes.forEach((shape, k) => {
        const cols = shape.at(-1)!;
        const rows = size(shape.slice(0, -1));
        const x = floats(shape, 10 + k, 3);
        const w = floats([cols], 20 + k);
        const dy = floats(shape, 30 + k);
        // the saved statistics come from the forward, as in training
        const mean = { data: new Float32Array(rows), shape: shape.slice(0, -1) };
        const rstd = { data: new Float32Array(rows), shape: shape.slice(0, -1) };
        const y = { data: new Float32Array(size(shape)), shape };
        const what = `${norm} backward ${shape}`;
        const tol = { rtol: 1e-4, atol: 1e-4 };
        const run = rows > 0 && cols > 0 ? ['norm_bwd_partials', 'sum_cols'] : [];
        if (norm === 'layerNorm') {
          const b = floats([cols], 40 + k);
          REF_KERNELS.layerNorm([x, w, b], [y, mean, rstd], { eps: 1e-6 });
          checkOp('layerNormBackward', [dy, x, w, mean, rstd], {}, what, {
            ...tol,
            kernels: rows > 0 && cols > 0 ? ['layer_norm_bwd_rows', ...run] : [],
          });
        } else {
          REF_KERNELS.rmsNorm([x, w], [y, rstd], { eps: 1e-6 });
          checkOp('rmsNormBackward', [dy, x, w, rstd], {}, what, {
            ...tol,
            kernels: rows > 0 && cols > 0 ? ['rms_norm_bwd_rows', ...run] : [],
          });
        }
      });
    });
});
