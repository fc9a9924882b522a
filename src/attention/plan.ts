/**
 * Building attention plans (the type and its validator are in core/attention-plan.ts): from
 * per-segment lists, over a batch, and their cost.
 */
import { type AttentionPlan, numSegments } from '../core/attention-plan.js';

export { type AttentionPlan, numSegments, validatePlan } from '../core/attention-plan.js';

/** Builds a plan from per-segment lists (convenient in tests and small builders). */
export function planFromSegments(
  segments: readonly { q: ArrayLike<number>; kv: ArrayLike<number> }[],
): AttentionPlan {
  const qOffsets = new Int32Array(segments.length + 1);
  const kvOffsets = new Int32Array(segments.length + 1);
  segments.forEach((s, i) => {
    qOffsets[i + 1] = qOffsets[i] + s.q.length;
    kvOffsets[i + 1] = kvOffsets[i] + s.kv.length;
  });
  const qIndex = new Int32Array(qOffsets[segments.length]);
  const kvIndex = new Int32Array(kvOffsets[segments.length]);
  segments.forEach((s, i) => {
    qIndex.set(Array.from(s.q), qOffsets[i]);
    kvIndex.set(Array.from(s.kv), kvOffsets[i]);
  });
  return { qIndex, qOffsets, kvIndex, kvOffsets };
}

/**
 * Batch > 1: concatenates per-sample plans over a token-major batch (sample b's rows follow sample
 * b-1's), shifting each sample's indices by the rows before it. `qRows`/`kvRows` are the row counts
 * of each sample (kvRows defaults to qRows, i.e. self-attention).
 */
export function batchPlans(
  items: readonly { plan: AttentionPlan; qRows: number; kvRows?: number }[],
): AttentionPlan {
  let segs = 0;
  let nq = 0;
  let nkv = 0;
  for (const { plan } of items) {
    segs += numSegments(plan);
    nq += plan.qIndex.length;
    nkv += plan.kvIndex.length;
  }
  const out = {
    qIndex: new Int32Array(nq),
    qOffsets: new Int32Array(segs + 1),
    kvIndex: new Int32Array(nkv),
    kvOffsets: new Int32Array(segs + 1),
  };
  let s0 = 0;
  let qBase = 0;
  let kvBase = 0;
  for (const { plan, qRows, kvRows = qRows } of items) {
    const qAt = out.qOffsets[s0];
    const kvAt = out.kvOffsets[s0];
    for (let i = 0; i < plan.qIndex.length; i++) out.qIndex[qAt + i] = plan.qIndex[i] + qBase;
    for (let i = 0; i < plan.kvIndex.length; i++) out.kvIndex[kvAt + i] = plan.kvIndex[i] + kvBase;
    const n = numSegments(plan);
    for (let s = 1; s <= n; s++) {
      out.qOffsets[s0 + s] = qAt + plan.qOffsets[s];
      out.kvOffsets[s0 + s] = kvAt + plan.kvOffsets[s];
    }
    s0 += n;
    qBase += qRows;
    kvBase += kvRows;
  }
  return out;
}

/** Useful attention work of a plan: sum over segments of nq * nk (multiply by 4*D*H for FLOPs). */
export function planPairs(plan: AttentionPlan): number {
  let s = 0;
  for (let i = 0; i + 1 < plan.qOffsets.length; i++)
    s += (plan.qOffsets[i + 1] - plan.qOffsets[i]) * (plan.kvOffsets[i + 1] - plan.kvOffsets[i]);
  return s;
}
