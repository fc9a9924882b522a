/**
 * Train / validation / test stories come from disjoint seed ranges, so a held-out story can never
 * be a training story: train = [0, 2^31), val = [2^31, 2^31 + 2^30), test = [2^31 + 2^30, 2^32).
 */
export type Split = 'train' | 'val' | 'test';

export const SPLIT_RANGES: Record<Split, readonly [number, number]> = {
  train: [0, 2 ** 31],
  val: [2 ** 31, 2 ** 31 + 2 ** 30],
  test: [2 ** 31 + 2 ** 30, 2 ** 32],
};

export function splitOf(seed: number): Split {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new Error(`world seed must be an integer in [0, 2^32), got ${seed}`);
  if (seed < SPLIT_RANGES.val[0]) return 'train';
  return seed < SPLIT_RANGES.test[0] ? 'val' : 'test';
}

/** The seed of story `index` of a split. */
export function splitSeed(split: Split, index: number): number {
  const [lo, hi] = SPLIT_RANGES[split];
  if (!Number.isInteger(index) || index < 0 || lo + index >= hi)
    throw new Error(`story index ${index} is outside the ${split} split (0..${hi - lo - 1})`);
  return lo + index;
}
