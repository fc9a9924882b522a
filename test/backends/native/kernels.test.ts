/**
 * The native conv3d (forward, both backward kernels), gatherRows, scatterAddRows and argmax against
 * ref, on every ISA build this CPU runs: padding on every side, causal time, strides that do not
 * divide, 1x1x1 kernels, a kernel as large as the padded input, several column blocks, repeated and
 * empty indices, ties, NaN. Also bit-identical results for 1 and 2 threads, and no ref fallback.
 * An unavailable library fails the suite, or skips it where test/backends/required.ts allows.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createNativeBackend, type NativeBackend } from '../../../src/backends/native/index.js';
import * as o from '../../../src/tensor/ops.js';
import { fromArray } from '../../../src/tensor/tensor.js';
import { compareWithRef, onBackend } from '../conformance.js';
import { CONV_CASES, convProgram } from '../conv-cases.js';
import { builds, describeNative, rn } from './setup.js';

const ints = (xs: number[]) => fromArray(Int32Array.from(xs), [xs.length]);

describeNative('native conv3d, gather/scatter rows, argmax', () => {
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
