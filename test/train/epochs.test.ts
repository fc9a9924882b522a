/** Shuffled epochs: every example once per epoch, in an order fixed by (seed, sample number). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/tensor/random.js';
import { epochSampler, permutation } from '../../src/train/epochs.js';

test('each epoch visits every example exactly once, and epochs are shuffled differently', () => {
  for (const n of [1, 2, 7, 600]) {
    const pick = epochSampler(n, 3);
    const epochs = [0, 1, 2].map((e) => Array.from({ length: n }, (_, i) => pick(e * n + i)));
    for (const e of epochs)
      assert.deepEqual(
        [...e].sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i),
      );
    if (n >= 7) assert.notDeepEqual(epochs[0], epochs[1]);
  }
});

test('the order is a function of (seed, sample) only: a fresh sampler resumes mid-epoch', () => {
  const run = epochSampler(600, 9);
  const all = Array.from({ length: 1500 }, (_, k) => run(k));
  const resumed = epochSampler(600, 9);
  assert.deepEqual(
    Array.from({ length: 700 }, (_, k) => resumed(800 + k)),
    all.slice(800),
  );
  assert.notDeepEqual(
    Array.from({ length: 20 }, (_, k) => epochSampler(600, 10)(k)),
    all.slice(0, 20),
  );
});

test('picks are spread evenly (the old float32 * 2^31 picker used 76 of 240 clips)', () => {
  const pick = epochSampler(240, 1);
  const first = new Set(Array.from({ length: 120 }, (_, k) => pick(k)));
  assert.equal(first.size, 120, 'half an epoch: 120 distinct clips');
  // the two halves of clip indices are each about half of the first 120 picks
  const low = [...first].filter((i) => i < 120).length;
  assert.ok(low > 40 && low < 80, `${low} of 120 picks from the lower half`);
});

test('permutation uses raw 32-bit words: n = 2 gives both orders', () => {
  const seen = new Set(Array.from({ length: 50 }, (_, s) => permutation(2, new Rng(s)).join()));
  assert.deepEqual([...seen].sort(), ['0,1', '1,0']);
});
