import type { Rng } from '../../src/tensor/random.js';

/** Balanced random routing: a random permutation, token of rank r goes to group r mod M. */
export function balancedIds(n: number, m: number, rng: Rng): Int32Array {
  const u = rng.uniformArray(n);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => u[a] - u[b]);
  const ids = new Int32Array(n);
  order.forEach((t, r) => (ids[t] = r % m));
  return ids;
}
