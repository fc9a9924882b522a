/** The sampling schedule: n + 1 times from 1 (noise) down to 0 (data), optionally shifted. */
import { shiftTime } from './rectified-flow.js';

/** [t_0 = 1, ..., t_n = 0], t_i = shift(1 - i / n). Shift > 1 takes smaller steps near noise. */
export function timesteps(n: number, shift = 1): number[] {
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`timesteps: need a positive integer step count, got ${n}`);
  return Array.from({ length: n + 1 }, (_, i) => shiftTime(1 - i / n, shift));
}
