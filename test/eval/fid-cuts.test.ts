/** Known answers for the pieces without the probes: the Frechet distance, the cut detector and matcher. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frechetDistance, sqrtPsd, symmetricEigen } from '../../src/eval/fid.js';
import { detectCuts, inShotChange, matchCuts, shotSampleFrames } from '../../src/eval/metrics.js';

function gaussianSet(n: number, dim: number, seed: number, shift = 0, scale = 1): Float64Array[] {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  return Array.from({ length: n }, () =>
    Float64Array.from({ length: dim }, () => {
      const u = Math.max(rand(), 1e-12);
      return shift + scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    }),
  );
}

test('symmetric eigen-decomposition and PSD square root', () => {
  const a = Float64Array.from([4, 1, 0, 1, 3, 1, 0, 1, 2]);
  const { values } = symmetricEigen(a, 3);
  const sum = values.reduce((x, y) => x + y, 0);
  assert.ok(Math.abs(sum - 9) < 1e-9); // trace
  const r = sqrtPsd(a, 3);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) {
      let v = 0;
      for (let k = 0; k < 3; k++) v += r[i * 3 + k] * r[k * 3 + j];
      assert.ok(Math.abs(v - a[i * 3 + j]) < 1e-9, `(${i},${j}) ${v}`);
    }
});

test('Frechet distance: 0 for the same set, |shift|^2 for a shifted copy, (s1 - s2)^2 per dim for scale', () => {
  const a = gaussianSet(200, 4, 1);
  assert.ok(frechetDistance(a, a) < 1e-6);
  const b = a.map((x) => x.map((v) => v + 0.5));
  assert.ok(Math.abs(frechetDistance(a, b) - 4 * 0.25) < 1e-6);
  const c = a.map((x) => x.map((v) => 3 * v));
  // covariances S and 9S: tr(S) + tr(9S) - 2 tr(3S) = 4 tr(S)
  let trS = 0;
  const m = new Float64Array(4);
  for (const x of a) for (let i = 0; i < 4; i++) m[i] += x[i] / a.length;
  for (const x of a) for (let i = 0; i < 4; i++) trS += (x[i] - m[i]) ** 2 / (a.length - 1);
  const meanShift = m.reduce((s, v) => s + (2 * v) ** 2, 0);
  assert.ok(Math.abs(frechetDistance(a, c) - (4 * trS + meanShift)) < 1e-6);
});

test('cut detector: peaks above the floor and the local median; matcher within 4 frames', () => {
  const d = new Float64Array(100).fill(1);
  d[0] = 0;
  d[30] = 40; // a cut
  d[60] = 5; // too small (floor 10)
  d[80] = 30; // a cut
  d[81] = 20; // not a peak
  assert.deepEqual(detectCuts(d), [30, 80]);
  const m = matchCuts([30, 70, 84], [30, 80]);
  assert.equal(m.matched, 2);
  assert.equal(m.recall, 2 / 3);
  assert.equal(m.precision, 1);
  assert.equal(matchCuts([30], [35]).matched, 0);
  assert.equal(matchCuts([30], [34]).matched, 1);
  // in-shot change ignores the frames around cuts
  assert.equal(inShotChange(d, [30, 80], 2), 1 + (5 - 1) / (99 - 10));
});

test('frames sampled in a shot stay clear of its cuts', () => {
  assert.deepEqual(shotSampleFrames(0, 20, 4, 3), [3, 7, 12, 16]);
  assert.deepEqual(shotSampleFrames(10, 14, 8, 3), [10, 11, 12, 13]);
});
