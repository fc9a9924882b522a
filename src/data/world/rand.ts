/**
 * A tiny counter-based random stream for story generation: value i of stream (seed, tag) is
 * hash(seed, tag, i), so a story is a pure function of its seed and adding a draw in one place
 * never shifts the draws of another stream (each part of the generator uses its own tag).
 */

/** lowbias32 (Chris Wellons): a fast 32-bit integer hash with good avalanche. */
export function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export interface Rand {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number;
  /** Uniform real in [lo, hi). */
  range(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
  /** A Fisher-Yates shuffled copy. */
  shuffle<T>(xs: readonly T[]): T[];
}

/** The stream (seed, tag). */
export function makeRand(seed: number, tag: number): Rand {
  const key = hash32((hash32(seed >>> 0) ^ Math.imul(tag + 1, 0x9e3779b9)) >>> 0);
  let i = 0;
  const next = () => hash32((key + Math.imul(i++, 0x632be5ab)) >>> 0) / 4294967296;
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    range: (lo, hi) => lo + next() * (hi - lo),
    pick: (xs) => {
      if (xs.length === 0) throw new Error('makeRand.pick: empty list');
      return xs[int(0, xs.length - 1)];
    },
    chance: (p) => next() < p,
    shuffle: (xs) => {
      const a = [...xs];
      for (let k = a.length - 1; k > 0; k--) {
        const j = int(0, k);
        [a[k], a[j]] = [a[j], a[k]];
      }
      return a;
    },
  };
}
