/**
 * The native conv3d (forward, both backward kernels), gatherRows, scatterAddRows and argmax against
 * ref, on every ISA build this CPU runs: padding on every side, causal time, strides that do not
 * divide, 1x1x1 kernels, a kernel as large as the padded input, several column blocks, repeated and
 * empty indices, ties, NaN. Also bit-identical results for 1 and 2 threads, and no ref fallback.
 * Without a C compiler the library is not built and the suite is skipped with that reason.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNativeBackend, type NativeBackend } from '../../../src/backends/native/index.js';
import type { ConvParams } from '../../../src/core/op-spec.js';
import * as o from '../../../src/tensor/ops.js';
import { apply, fromArray } from '../../../src/tensor/tensor.js';
import { compareWithRef, onBackend } from '../conformance.js';
import { builds, rn, skipUnbuilt } from './setup.js';

const ints = (xs: number[]) => fromArray(Int32Array.from(xs), [xs.length]);

const pad = (t: [number, number], h: [number, number], w: [number, number]): [number, number][] => [t, h, w];

interface ConvCase {
  name: string;
  xs: number[];
  ws: number[];
  p: ConvParams;
}

const CONV_CASES: ConvCase[] = [
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

function outShape(c: ConvCase): number[] {
  const o3 = [0, 1, 2].map(
    (i) =>
      Math.floor((c.xs[2 + i] + c.p.padding[i][0] + c.p.padding[i][1] - c.ws[2 + i]) / c.p.stride[i]) + 1,
  );
  return [c.xs[0], c.ws[0], ...o3];
}

/** conv3d forward, dx and dw of case c (inputs from fixed seeds). */
function convProgram(c: ConvCase) {
  return () => [
    apply('conv3d', [rn(c.xs, 1), rn(c.ws, 2, 0.3)], c.p)[0],
    apply('conv3dBackwardInput', [rn(outShape(c), 3), rn(c.ws, 2, 0.3)], {
      ...c.p,
      inputShape: [...c.xs],
    })[0],
    apply('conv3dBackwardWeight', [rn(outShape(c), 3), rn(c.xs, 1)], { ...c.p, kernelShape: [...c.ws] })[0],
  ];
}

describe('native conv3d, gather/scatter rows, argmax', { skip: skipUnbuilt }, () => {
  it('conv3d forward and both backward kernels match ref, every ISA', () => {
    for (const b of builds()) {
      for (const c of CONV_CASES) compareWithRef(b, convProgram(c), 1e-4, 1e-4, `${b.isa} conv ${c.name}`);
      const fell = Object.keys(b.refFallbacks()).filter((k) => k.startsWith('conv'));
      assert.deepEqual(fell, [], `${b.isa}: conv ran through the ref fallback`);
    }
  });

  it('conv3d gives bit-identical results for 1 and 2 threads', () => {
    const b1 = createNativeBackend({ threads: 1, skipSelfTest: true }) as NativeBackend;
    const b2 = createNativeBackend({ threads: 2, skipSelfTest: true }) as NativeBackend;
    for (const c of [CONV_CASES[1], CONV_CASES[2], CONV_CASES[8]]) {
      const one = onBackend(b1, convProgram(c));
      const two = onBackend(b2, convProgram(c));
      one.forEach((a, j) =>
        assert.deepEqual(two[j], a, `${c.name} output ${j} differs between 1 and 2 threads`),
      );
    }
  });

  it('gatherRows and scatterAddRows match ref (repeated, unused and no indices; int32 rows); bad indices throw', () => {
    for (const b of builds()) {
      const idx = () => ints([3, 0, 16, 3, 3, 9, 0]);
      compareWithRef(b, () => o.gatherRows(rn([17, 3, 5], 1), idx()), 0, 0, `${b.isa} gatherRows`);
      compareWithRef(b, () => o.gatherRows(rn([17], 1), idx()), 0, 0, `${b.isa} gatherRows of scalars`);
      compareWithRef(
        b,
        () =>
          o.gatherRows(
            fromArray(
              Int32Array.from({ length: 34 }, (_, i) => i * 7 - 50),
              [17, 2],
            ),
            idx(),
          ),
        0,
        0,
        `${b.isa} gatherRows int32`,
      );
      compareWithRef(b, () => o.gatherRows(rn([4, 6], 1), ints([])), 0, 0, `${b.isa} gatherRows, no index`);
      compareWithRef(b, () => o.scatterAddRows(rn([7, 129], 2), idx(), 17), 0, 0, `${b.isa} scatterAddRows`);
      compareWithRef(
        b,
        () => o.scatterAddRows(rn([7], 2), idx(), 20),
        0,
        0,
        `${b.isa} scatterAddRows of scalars`,
      );
      compareWithRef(
        b,
        () => o.scatterAddRows(rn([0, 3], 2), ints([]), 5),
        0,
        0,
        `${b.isa} scatterAddRows, none`,
      );
      assert.throws(
        () => onBackend(b, () => o.gatherRows(rn([3, 2], 1), ints([0, 3]))),
        /gatherRows: index 3 at position 1 is out of range \[0, 3\)/,
      );
      assert.throws(
        () => onBackend(b, () => o.scatterAddRows(rn([2, 2], 1), ints([-1, 0]), 3)),
        /scatterAddRows: index -1 at position 0 is out of range/,
      );
      const fell = b.refFallbacks();
      assert.equal((fell.gatherRows ?? 0) + (fell.scatterAddRows ?? 0), 0, `${b.isa}: ran through ref`);
    }
  });

  it('argmax matches ref on every axis, with ties, NaN and -Infinity', () => {
    for (const b of builds()) {
      for (const axis of [0, 1, 2, -1])
        for (const ties of [false, true])
          compareWithRef(
            b,
            () => o.argmax(ties ? o.sign(rn([3, 17, 5], 4)) : rn([3, 17, 5], 4), axis),
            0,
            0,
            `${b.isa} argmax axis ${axis}${ties ? ' ties' : ''}`,
          );
      const edge = [1, 3, 3, Number.NaN, 2, 3, Number.NaN, Number.NaN, -Infinity, -Infinity, 5, Number.NaN];
      compareWithRef(b, () => o.argmax(fromArray(edge, [12])), 0, 0, `${b.isa} argmax ties/NaN`);
      compareWithRef(b, () => o.argmax(fromArray(edge, [4, 3]), 1), 0, 0, `${b.isa} argmax rows NaN/-inf`);
      compareWithRef(b, () => o.argmax(fromArray(edge, [4, 3]), 0), 0, 0, `${b.isa} argmax columns`);
      assert.equal(b.refFallbacks().argmax ?? 0, 0, `${b.isa}: argmax ran through ref`);
    }
  });
});
