/**
 * Weights that decode to finite numbers and are still not weights, such as a tensor stored as F16
 * with the header saying BF16: the F16 exponent lands in BF16's 8-bit exponent field, so weights
 * of magnitude 0.001-0.5 come out near 1e-23-1e-5 (the model then draws an all-black or all-grey
 * video and exits 0). Real weights of the bundled models have median magnitudes of 0.003-6.5 and
 * maxima below 7, so the bounds here leave more than three orders of magnitude on either side.
 * Not caught: BF16 bytes labelled F16, which land in [0.25, 4) with their signs kept and look
 * like plausible weights.
 */
import type { SafeFile } from './safetensors.js';

/** A tensor whose non-zero values are mostly below this in magnitude is not a plausible weight. */
export const TINY_WEIGHT = 1e-6;
/** A float weight above this in magnitude is not plausible (the F16 maximum is 65504). */
export const HUGE_WEIGHT = 1e4;
/** Tensors with fewer non-zero values than this are not judged by their share of tiny values. */
const MIN_JUDGED = 16;

/**
 * The first float tensor of `file` whose values cannot be weights, described with the likely cause
 * ("tensor X (BF16): ... F16 data labelled BF16?"), or null. One pass over each tensor's values.
 */
export function implausibleWeights(file: SafeFile): string | null {
  for (const [name, t] of file.tensors) {
    if (!(t.data instanceof Float32Array)) continue;
    const d = t.data;
    let nonZero = 0;
    let tiny = 0;
    let max = 0;
    for (let i = 0; i < d.length; i++) {
      const a = Math.abs(d[i]);
      if (a === 0) continue;
      nonZero++;
      if (a < TINY_WEIGHT) tiny++;
      if (a > max) max = a;
    }
    const cause = t.dtype === 'BF16' ? 'F16 data labelled BF16? (' : '(';
    if (max > HUGE_WEIGHT)
      return `tensor ${name} (${t.dtype}) holds values up to ${max.toExponential(2)} in magnitude, above ${HUGE_WEIGHT}: not plausible weights (a wrong dtype in the header or corrupt data)`;
    if (nonZero >= MIN_JUDGED && tiny * 2 > nonZero)
      return `tensor ${name} (${t.dtype}): ${tiny} of its ${nonZero} non-zero values are below ${TINY_WEIGHT.toExponential()} in magnitude: not plausible weights ${cause}a wrong dtype in the header or corrupt data)`;
  }
  return null;
}
