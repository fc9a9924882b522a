/**
 * Host-side references for the GPU checks: bf16 conversion, relative L2 error, random plans, and
 * grouped attention forward/backward in float64 (plain loops; small sizes only).
 */
import type { AttentionPlan } from '../../src/core/attention-plan.js';
import { mulberry } from '../../src/eval/mulberry.js';

/** Seeded uniform random numbers in [0, 1) (mulberry32, the probes' generator). */
export const makeRandom = mulberry;

export function uniform(rand: () => number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** float32 -> bfloat16 bits, round to nearest even. */
export function toBf16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    f32[0] = x[i];
    const u = u32[0];
    out[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return out;
}
export function fromBf16(b: Uint16Array): Float32Array {
  const out = new Float32Array(b.length);
  const w = new Uint32Array(out.buffer);
  for (let i = 0; i < b.length; i++) w[i] = b[i] << 16;
  return out;
}
export const roundBf16 = (x: Float32Array) => fromBf16(toBf16(x));

/** ||got - ref|| / ||ref|| over the entries `keep` selects; NaN anywhere in got gives Infinity. */
export function relL2(got: ArrayLike<number>, ref: ArrayLike<number>, keep?: (i: number) => boolean): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(got[i])) return Number.POSITIVE_INFINITY;
    if ((keep && !keep(i)) || got[i] === ref[i]) continue; // equal entries (also +-Infinity) add nothing
    num += (got[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/**
 * A random irregular plan: `sizes` gives each segment's [queries, keys]. Query rows are a random
 * subset of [0, nq) (so some rows are in no segment, each at most once); key rows are drawn per
 * segment from [0, nk) and may repeat across segments.
 */
export function randomPlan(
  rand: () => number,
  nq: number,
  nk: number,
  sizes: [number, number][],
): AttentionPlan {
  const perm = Array.from({ length: nq }, (_, i) => i);
  for (let i = nq - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const qIndex: number[] = [];
  const kvIndex: number[] = [];
  const qOffsets = [0];
  const kvOffsets = [0];
  for (const [a, b] of sizes) {
    for (let i = 0; i < a; i++) qIndex.push(perm[qIndex.length]);
    const pool = Array.from({ length: nk }, (_, i) => i);
    for (let i = 0; i < b; i++) {
      const j = i + Math.floor(rand() * (nk - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
      kvIndex.push(pool[i]);
    }
    qOffsets.push(qIndex.length);
    kvOffsets.push(kvIndex.length);
  }
  return {
    qIndex: Int32Array.from(qIndex),
    qOffsets: Int32Array.from(qOffsets),
    kvIndex: Int32Array.from(kvIndex),
    kvOffsets: Int32Array.from(kvOffsets),
  };
}

export interface Dims {
  nq: number;
  nk: number;
  h: number;
  d: number;
}

/** Forward in float64: o [nq,h,d] (0 for unplanned rows), lse [nq,h] (-inf for unplanned rows and rows without keys). */
export function refForward(q: Float32Array, k: Float32Array, v: Float32Array, s: Dims, p: AttentionPlan) {
  const { h: H, d: D } = s;
  const o = new Float64Array(s.nq * H * D);
  const lse = new Float64Array(s.nq * H).fill(Number.NEGATIVE_INFINITY);
  const scale = 1 / Math.sqrt(D);
  for (let g = 0; g + 1 < p.qOffsets.length; g++) {
    const kv = p.kvIndex.subarray(p.kvOffsets[g], p.kvOffsets[g + 1]);
    const sc = new Float64Array(kv.length);
    for (let a = p.qOffsets[g]; a < p.qOffsets[g + 1]; a++) {
      const r = p.qIndex[a];
      for (let h = 0; h < H; h++) {
        const qo = (r * H + h) * D;
        let m = Number.NEGATIVE_INFINITY;
        kv.forEach((j, t) => {
          const ko = (j * H + h) * D;
          let x = 0;
          for (let e = 0; e < D; e++) x += q[qo + e] * k[ko + e];
          sc[t] = x * scale;
          m = Math.max(m, sc[t]);
        });
        let l = 0;
        for (let t = 0; t < kv.length; t++) {
          const w = Math.exp(sc[t] - m);
          l += w;
          const vo = (kv[t] * H + h) * D;
          for (let e = 0; e < D; e++) o[qo + e] += w * v[vo + e];
        }
        if (kv.length) for (let e = 0; e < D; e++) o[qo + e] /= l;
        lse[r * H + h] = kv.length ? m + Math.log(l) : Number.NEGATIVE_INFINITY;
      }
    }
  }
  return { o, lse };
}

/** Backward in float64 from the reference forward's o and lse. */
export function refBackward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dO: Float32Array,
  s: Dims,
  p: AttentionPlan,
) {
  const { h: H, d: D } = s;
  const { o, lse } = refForward(q, k, v, s, p);
  const dq = new Float64Array(s.nq * H * D);
  const dk = new Float64Array(s.nk * H * D);
  const dv = new Float64Array(s.nk * H * D);
  const scale = 1 / Math.sqrt(D);
  for (let g = 0; g + 1 < p.qOffsets.length; g++) {
    const kv = p.kvIndex.subarray(p.kvOffsets[g], p.kvOffsets[g + 1]);
    for (let a = p.qOffsets[g]; a < p.qOffsets[g + 1]; a++) {
      const r = p.qIndex[a];
      for (let h = 0; h < H; h++) {
        const qo = (r * H + h) * D;
        let delta = 0;
        for (let e = 0; e < D; e++) delta += dO[qo + e] * o[qo + e];
        for (const j of kv) {
          const ko = (j * H + h) * D;
          let x = 0;
          let dp = 0;
          for (let e = 0; e < D; e++) {
            x += q[qo + e] * k[ko + e];
            dp += dO[qo + e] * v[ko + e];
          }
          const pr = Math.exp(x * scale - lse[r * H + h]);
          const ds = pr * (dp - delta) * scale;
          for (let e = 0; e < D; e++) {
            dq[qo + e] += ds * k[ko + e];
            dk[ko + e] += ds * q[qo + e];
            dv[ko + e] += pr * dO[qo + e];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
