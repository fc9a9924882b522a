/** xorshift32: a small seeded generator for the fuzzers, independent of the code under test. */
export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)],
  };
}
export type Rng = ReturnType<typeof rng>;

/** Cases per fuzz test: a few thousand in `npm test`, MOGA_FUZZ_CASES=100000 for the long mode. */
export const CASES = Number(process.env.MOGA_FUZZ_CASES ?? 2000);
export const SEED = Number(process.env.MOGA_FUZZ_SEED ?? 15);
