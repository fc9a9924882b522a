/**
 * conv3d cases every conformance run covers: padding on every side, causal time, strides that do
 * not divide, 1x1x1 kernels, a kernel as large as the padded input, and one large enough for
 * several column blocks; `convProgram` runs the forward and both backward kernels on fixed seeds.
 */
import type { ConvParams } from '../../src/core/op-spec.js';
import { Rng } from '../../src/tensor/random.js';
import { apply } from '../../src/tensor/tensor.js';

const rn = (shape: number[], seed: number, std = 1) => new Rng(seed).normal(shape, std);

const pad = (t: [number, number], h: [number, number], w: [number, number]): [number, number][] => [t, h, w];

export interface ConvCase {
  name: string;
  xs: number[];
  ws: number[];
  p: ConvParams;
}

export const CONV_CASES: ConvCase[] = [
  {
    name: 'same 3x3x3',
    xs: [1, 2, 3, 4, 5],
    ws: [3, 2, 3, 3, 3],
    p: { stride: [1, 1, 1], padding: pad([1, 1], [1, 1], [1, 1]) },
  },
  {
    name: 'causal time, batch 2',
    xs: [2, 3, 5, 6, 7],
    ws: [4, 3, 3, 3, 3],
    p: { stride: [1, 1, 1], padding: pad([2, 0], [1, 1], [1, 1]) },
  },
  {
    name: 'stride 2, odd sizes',
    xs: [1, 2, 7, 9, 11],
    ws: [5, 2, 3, 3, 3],
    p: { stride: [2, 2, 2], padding: pad([1, 1], [1, 1], [1, 1]) },
  },
  {
    name: 'stride 3 with uneven padding',
    xs: [1, 3, 4, 10, 8],
    ws: [2, 3, 2, 4, 3],
    p: { stride: [1, 3, 3], padding: pad([0, 1], [2, 0], [0, 2]) },
  },
  {
    name: 'asymmetric kernel, no padding',
    xs: [1, 2, 4, 6, 8],
    ws: [3, 2, 1, 2, 5],
    p: { stride: [1, 2, 1], padding: pad([0, 0], [0, 0], [0, 0]) },
  },
  {
    name: '1x1x1 (channel mix)',
    xs: [2, 5, 2, 3, 4],
    ws: [7, 5, 1, 1, 1],
    p: { stride: [1, 1, 1], padding: pad([0, 0], [0, 0], [0, 0]) },
  },
  {
    name: 'kernel as large as the padded input',
    xs: [1, 2, 2, 3, 3],
    ws: [3, 2, 3, 4, 5],
    p: { stride: [1, 1, 1], padding: pad([1, 0], [1, 0], [1, 1]) },
  },
  {
    name: 'one channel in and out',
    xs: [1, 1, 3, 5, 5],
    ws: [1, 1, 3, 3, 3],
    p: { stride: [1, 1, 1], padding: pad([2, 0], [1, 1], [1, 1]) },
  },
  // K * rows * Wo = 5 M floats: many row blocks of native's 256 K-float column buffer (c/kernels.c COL_FLOATS)
  {
    name: 'two column blocks',
    xs: [1, 64, 3, 24, 40],
    ws: [8, 64, 3, 3, 3],
    p: { stride: [1, 1, 1], padding: pad([2, 0], [1, 1], [1, 1]) },
  },
];

export function outShape(c: ConvCase): number[] {
  const o3 = [0, 1, 2].map(
    (i) =>
      Math.floor((c.xs[2 + i] + c.p.padding[i][0] + c.p.padding[i][1] - c.ws[2 + i]) / c.p.stride[i]) + 1,
  );
  return [c.xs[0], c.ws[0], ...o3];
}

/** conv3d forward, dx and dw of case c (inputs from fixed seeds). */
export function convProgram(c: ConvCase) {
  return () => [
    apply('conv3d', [rn(c.xs, 1), rn(c.ws, 2, 0.3)], c.p)[0],
    apply('conv3dBackwardInput', [rn(outShape(c), 3), rn(c.ws, 2, 0.3)], {
      ...c.p,
      inputShape: [...c.xs],
    })[0],
    apply('conv3dBackwardWeight', [rn(outShape(c), 3), rn(c.xs, 1)], { ...c.p, kernelShape: [...c.ws] })[0],
  ];
}
