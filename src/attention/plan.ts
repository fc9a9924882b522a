/**
 * An attention plan: which query rows and which key/value rows take part in each segment.
 * Every attention pattern of the system (full, per-frame, window x temporal, routed groups) lowers
 * to this one varlen description, and one kernel (`groupedAttention`) executes any of them.
 *
 * Segment s uses query rows qIndex[qOffsets[s] .. qOffsets[s+1]) and key/value rows
 * kvIndex[kvOffsets[s] .. kvOffsets[s+1]). A query row appears in at most one segment (rows in no
 * segment get a zero output); segments may be empty; key/value rows may repeat across segments.
 */

export interface AttentionPlan {
  readonly qIndex: Int32Array;
  readonly qOffsets: Int32Array; // [segments + 1]
  readonly kvIndex: Int32Array;
  readonly kvOffsets: Int32Array; // [segments + 1]
}

export function numSegments(plan: AttentionPlan): number {
  return plan.qOffsets.length - 1;
}

/**
 * Throws a clear error when `plan` is malformed for `nq` query rows and `nk` key/value rows:
 * offsets not monotone or not covering the index arrays, indices out of range, a query row in two
 * segments. Cost O(plan size + nq).
 */
export function validatePlan(plan: AttentionPlan, nq: number, nk: number): void {
  const { qIndex, qOffsets, kvIndex, kvOffsets } = plan;
  for (const [name, a] of Object.entries(plan))
    if (!(a instanceof Int32Array)) throw new Error(`attention plan: ${name} must be an Int32Array`);
  if (qOffsets.length < 1 || qOffsets.length !== kvOffsets.length)
    throw new Error(
      `attention plan: qOffsets (${qOffsets.length}) and kvOffsets (${kvOffsets.length}) need the same length >= 1 (segments + 1)`,
    );
  const segs = qOffsets.length - 1;
  checkOffsets('q', qOffsets, qIndex.length, segs);
  checkOffsets('kv', kvOffsets, kvIndex.length, segs);
  const owner = new Int32Array(nq).fill(-1);
  for (let s = 0; s < segs; s++) {
    for (let i = qOffsets[s]; i < qOffsets[s + 1]; i++) {
      const r = qIndex[i];
      if (!(r >= 0 && r < nq))
        throw new Error(`attention plan: segment ${s} has query row ${r} (qIndex[${i}]) outside [0, ${nq})`);
      if (owner[r] >= 0)
        throw new Error(
          `attention plan: query row ${r} is in segment ${owner[r]} and again in segment ${s} (qIndex[${i}])`,
        );
      owner[r] = s;
    }
    for (let i = kvOffsets[s]; i < kvOffsets[s + 1]; i++) {
      const r = kvIndex[i];
      if (!(r >= 0 && r < nk))
        throw new Error(
          `attention plan: segment ${s} has key/value row ${r} (kvIndex[${i}]) outside [0, ${nk})`,
        );
    }
  }
}

function checkOffsets(which: string, off: Int32Array, len: number, segs: number) {
  if (off[0] !== 0) throw new Error(`attention plan: ${which}Offsets[0] must be 0, got ${off[0]}`);
  for (let s = 0; s < segs; s++)
    if (off[s + 1] < off[s])
      throw new Error(
        `attention plan: ${which}Offsets decreases at segment ${s} (${off[s]} -> ${off[s + 1]})`,
      );
  if (off[segs] !== len)
    throw new Error(
      `attention plan: ${which}Offsets ends at ${off[segs]} but ${which}Index has ${len} entries`,
    );
}

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
