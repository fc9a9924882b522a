/** The one plan validator (core/attention-plan.ts) that the op, wasm, native and CUDA all call. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttentionPlan, validatePlan } from '../../src/core/attention-plan.js';

const plan = (q: number[], qo: number[], kv: number[], ko: number[]): AttentionPlan => ({
  qIndex: Int32Array.from(q),
  qOffsets: Int32Array.from(qo),
  kvIndex: Int32Array.from(kv),
  kvOffsets: Int32Array.from(ko),
});

test('a good plan passes and reports its largest key/value segment', () => {
  // query row 1 in no segment, key row 1 in two segments, an empty segment: all allowed
  assert.equal(validatePlan(plan([2, 0], [0, 1, 2, 2], [1, 1, 0], [0, 2, 3, 3]), 3, 2), 2);
  assert.equal(validatePlan(plan([], [0], [], [0]), 0, 0), 0);
});

test('a query row in two segments is refused', () =>
  assert.throws(
    () => validatePlan(plan([0, 2, 0], [0, 2, 3], [0, 1], [0, 1, 2]), 3, 2),
    /query row 0 is in segment 0 and again in segment 1 \(qIndex\[2\]\)/,
  ));

test('indices out of range are refused, on either side', () => {
  const bad: [AttentionPlan, RegExp][] = [
    [plan([3], [0, 1], [0], [0, 1]), /segment 0 has query row 3 \(qIndex\[0\]\) outside \[0, 3\)/],
    [plan([-1], [0, 1], [0], [0, 1]), /query row -1 .* outside \[0, 3\)/],
    [plan([0], [0, 1], [2], [0, 1]), /segment 0 has key\/value row 2 \(kvIndex\[0\]\) outside \[0, 2\)/],
    [plan([0], [0, 1], [-5], [0, 1]), /key\/value row -5 .* outside \[0, 2\)/],
  ];
  for (const [p, re] of bad) assert.throws(() => validatePlan(p, 3, 2), re);
});

test('bad offsets are refused', () => {
  const bad: [AttentionPlan, RegExp][] = [
    [plan([0], [1, 1], [0], [0, 1]), /qOffsets\[0\] must be 0, got 1/],
    [plan([0], [0, 1], [0], [1, 1]), /kvOffsets\[0\] must be 0, got 1/],
    [plan([0, 1], [0, 2, 1, 2], [0], [0, 1, 1, 1]), /qOffsets decreases at segment 1 \(2 -> 1\)/],
    [plan([0], [0, 1, 1], [0, 1], [0, 2, 1]), /kvOffsets decreases at segment 1/],
    [plan([0, 1], [0, 1], [0], [0, 1]), /qOffsets ends at 1 but qIndex has 2 entries/],
    [plan([0], [0, 1], [0], [0, 2]), /kvOffsets ends at 2 but kvIndex has 1 entries/],
    [plan([0], [0, 1], [0], [0, 0, 1]), /qOffsets \(2\) and kvOffsets \(3\) need the same length/],
    [plan([], [], [], []), /need the same length >= 1/],
  ];
  for (const [p, re] of bad) assert.throws(() => validatePlan(p, 3, 2), re);
});

test('index arrays must be Int32Array (kernels read them as int32)', () =>
  assert.throws(
    () => validatePlan({ ...plan([0], [0, 1], [0], [0, 1]), kvIndex: Float32Array.of(0) as never }, 3, 2),
    /kvIndex must be an Int32Array/,
  ));
