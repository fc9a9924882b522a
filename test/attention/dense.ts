/**
 * Test oracles: the boolean mask a plan stands for, and dense masked attention on it in float64
 * (an independent O(N^2) computation, deliberately not sharing code with the kernels).
 */
import type { AttentionPlan } from '../../src/attention/plan.js';

/** mask[i * nk + j] = 1 when query row i may see key row j. */
export function planMask(plan: AttentionPlan, nq: number, nk: number): Uint8Array {
  const mask = new Uint8Array(nq * nk);
  for (let s = 0; s + 1 < plan.qOffsets.length; s++)
    for (let a = plan.qOffsets[s]; a < plan.qOffsets[s + 1]; a++)
      for (let b = plan.kvOffsets[s]; b < plan.kvOffsets[s + 1]; b++)
        mask[plan.qIndex[a] * nk + plan.kvIndex[b]] = 1;
  return mask;
}

/**
 * softmax(q k^T * scale + mask) v per head; q [nq,H,D], k/v [nk,H,D] flat; rows seeing no key -> 0.
 * Repeated key rows inside a segment are counted once by a mask; plans in the tests avoid them.
 */
export function denseMasked(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  mask: Uint8Array,
  [nq, nk, H, D]: [number, number, number, number],
  scale = 1 / Math.sqrt(D),
): Float64Array {
  const out = new Float64Array(nq * H * D);
  const s = new Float64Array(nk);
  for (let i = 0; i < nq; i++)
    for (let h = 0; h < H; h++) {
      let mx = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < nk; j++) {
        if (!mask[i * nk + j]) continue;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(i * H + h) * D + d] * k[(j * H + h) * D + d];
        s[j] = dot * scale;
        mx = Math.max(mx, s[j]);
      }
      if (mx === Number.NEGATIVE_INFINITY) continue;
      let z = 0;
      for (let j = 0; j < nk; j++) if (mask[i * nk + j]) z += Math.exp(s[j] - mx);
      for (let j = 0; j < nk; j++) {
        if (!mask[i * nk + j]) continue;
        const p = Math.exp(s[j] - mx) / z;
        for (let d = 0; d < D; d++) out[(i * H + h) * D + d] += p * v[(j * H + h) * D + d];
      }
    }
  return out;
}

/** max |a - b| / max |b| (0/0 = 0). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let e = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i])) return Number.POSITIVE_INFINITY;
    e = Math.max(e, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? e : e / m;
}

/** Deterministic data in [-1, 1) (xorshift). */
export function randArray(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}
