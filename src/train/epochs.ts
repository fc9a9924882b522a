/**
 * Which example a training step sees: shuffled epochs, so every example is seen once per pass
 * over the data set, in an order that is a pure function of (seed, sample number) -- exact resume
 * needs nothing else. Sample k of the run is position k mod n of epoch floor(k / n).
 */
import { Rng } from '../tensor/random.js';

/** A Fisher-Yates permutation of 0..n-1 drawn from raw 32-bit words (unbiased for n < 2^20). */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  const w = rng.uint32Array(n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor((w[i] / 2 ** 32) * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** sample number -> example index, for a data set of `n` examples; remembers the current epoch. */
export function epochSampler(n: number, seed: number): (sample: number) => number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`epoch sampler: need n >= 1 examples, got ${n}`);
  let epoch = -1;
  let order: Int32Array = new Int32Array(0);
  return (sample) => {
    const e = Math.floor(sample / n);
    if (e !== epoch) {
      epoch = e;
      order = permutation(n, new Rng(seed, e * Math.ceil(n / 4)));
    }
    return order[sample - e * n];
  };
}
