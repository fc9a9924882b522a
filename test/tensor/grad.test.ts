/** Finite-difference checks of every differentiable primitive's gradient rule (float64 evaluation). */
import { describe, test } from 'node:test';
import { UNARY_OPS } from '../../src/core/op-spec.js';
import { checkOpGrad, f } from '../helpers/gradcheck.js';

const positive = new Set(['log', 'sqrt', 'rsqrt']);

describe('unary gradients', () => {
  for (const op of UNARY_OPS.filter((o) => o !== 'sign'))
    test(op, () => {
      const lo = positive.has(op) ? 0.2 : -2;
      checkOpGrad(op, [f([3, 1, 5], 1, lo, 2)], {});
      checkOpGrad(op, [f([1], 2, lo, 2)], {});
    });
});

describe('binary gradients with broadcasting', () => {
  const shapes: [number[], number[]][] = [
    [
      [4, 3],
      [4, 3],
    ],
    [[4, 3], [3]],
    [
      [2, 1, 3],
      [1, 5, 1],
    ],
    [[1], [2, 3]],
    [[], [3, 2]],
  ];
  for (const op of ['add', 'sub', 'mul', 'div', 'maximum'] as const)
    test(op, () => {
      shapes.forEach(([a, b], i) => {
        const bLo = op === 'div' ? 0.5 : -1;
        checkOpGrad(op, [f(a, 10 + i), f(b, 20 + i, bLo, 1.5)], {});
      });
    });
  test('pow', () => {
    checkOpGrad('pow', [f([3, 4], 3, 0.5, 2), f([4], 4, -1.5, 2)], {});
    checkOpGrad('pow', [f([2, 3], 5, 0.5, 2), f([], 6, 1, 3)], {});
  });
  test('where', () => {
    const cond = { data: Float64Array.from([1, 0, 1, 0, 0, 1]), shape: [2, 3], grad: false };
    checkOpGrad('where', [cond, f([2, 3], 7), f([3], 8)], {});
    checkOpGrad('where', [cond, f([1], 9), f([2, 1], 10)], {});
  });
});

describe('reduction gradients', () => {
  test('sum over axes, with and without keepDims', () => {
    checkOpGrad('sum', [f([2, 3, 4], 11)], { axes: [1], keepDims: false });
    checkOpGrad('sum', [f([2, 3, 4], 12)], { axes: [0, 2], keepDims: true });
    checkOpGrad('sum', [f([1, 5], 13)], { axes: [0, 1], keepDims: false });
  });
  test('max (no ties)', () => {
    checkOpGrad('max', [f([3, 5], 14)], { axes: [1], keepDims: false });
    checkOpGrad('max', [f([2, 3, 2], 15)], { axes: [0, 2], keepDims: true });
  });
});

describe('movement gradients', () => {
  test('reshape, permute, broadcastTo', () => {
    checkOpGrad('reshape', [f([2, 6], 16)], { shape: [3, 4] });
    checkOpGrad('permute', [f([2, 3, 4], 17)], { perm: [2, 0, 1] });
    checkOpGrad('broadcastTo', [f([3, 1], 18)], { shape: [2, 3, 4] });
  });
  test('slice, concat, pad', () => {
    checkOpGrad('slice', [f([4, 5], 19)], { starts: [1, 0], ends: [3, 4] });
    checkOpGrad('concat', [f([2, 3], 20), f([2, 1], 21), f([2, 2], 22)], { axis: 1 });
    checkOpGrad('concat', [f([1, 3], 23), f([2, 3], 24)], { axis: 0 });
    checkOpGrad('pad', [f([2, 3], 25)], {
      pads: [
        [1, 0],
        [2, 1],
      ],
      value: 0.5,
    });
  });
  test('cast float32 -> float32 is the identity', () => {
    checkOpGrad('cast', [f([5], 26)], { dtype: 'float32' });
  });
});

describe('matmul gradients', () => {
  for (const transA of [false, true])
    for (const transB of [false, true])
      test(`transA=${transA} transB=${transB}, broadcast batch`, () => {
        const a = transA ? [2, 1, 4, 3] : [2, 1, 3, 4];
        const b = transB ? [5, 4] : [4, 5];
        checkOpGrad('matmul', [f(a, 27), f(b, 28)], { transA, transB });
        checkOpGrad('matmul', [f(transA ? [1, 1] : [1, 1], 29), f(transB ? [3, 1] : [1, 3], 30)], {
          transA,
          transB,
        });
      });
});

describe('indexing and norm gradients', () => {
  test('gatherRows and scatterAddRows with repeated indices', () => {
    const idx = { data: Int32Array.from([2, 0, 2, 1]), shape: [4] };
    checkOpGrad('gatherRows', [f([3, 2], 31), idx], {});
    checkOpGrad('scatterAddRows', [f([4, 2], 32), idx], { rows: 5 });
  });
  test('layerNorm (x, weight, bias)', () => {
    checkOpGrad('layerNorm', [f([3, 7], 33), f([7], 34), f([7], 35)], { eps: 1e-5 });
    checkOpGrad('layerNorm', [f([2, 1, 2], 36), f([2], 37), f([2], 38)], { eps: 1e-5 });
  });
  test('rmsNorm (x, weight)', () => {
    checkOpGrad('rmsNorm', [f([3, 7], 39), f([7], 40)], { eps: 1e-5 });
    checkOpGrad('rmsNorm', [f([1, 1], 41, 0.5, 1), f([1], 42)], { eps: 1e-5 });
  });
});
