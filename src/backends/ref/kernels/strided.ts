/** Index helpers for kernels over broadcast or permuted layouts. */
import { type Shape, stridesOf } from '../../../core/shape.js';

/** Strides of `inShape` read as if broadcast to `outShape` (0 along broadcast axes). */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const s = stridesOf(inShape);
  const lead = outShape.length - inShape.length;
  return outShape.map((_, i) => (i < lead || inShape[i - lead] === 1 ? 0 : s[i - lead]));
}

/**
 * Calls `f(outIndex, inIndex_0, ..., inIndex_k)` for every element of `outShape`, in order, where
 * each input offset follows its own strides. An odometer: no division per element.
 */
export function forEachStrided(
  outShape: Shape,
  strides: number[][],
  f: (o: number, offs: Int32Array) => void,
): void {
  const rank = outShape.length;
  const n = outShape.reduce((a, b) => a * b, 1);
  const k = strides.length;
  const offs = new Int32Array(k);
  const idx = new Int32Array(rank);
  for (let o = 0; o < n; o++) {
    f(o, offs);
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax]++;
      for (let j = 0; j < k; j++) offs[j] += strides[j][ax];
      if (idx[ax] < outShape[ax]) break;
      for (let j = 0; j < k; j++) offs[j] -= strides[j][ax] * idx[ax];
      idx[ax] = 0;
    }
  }
}
