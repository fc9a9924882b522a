/**
 * An attention plan: which query rows and which key/value rows take part in each segment.
 * Every attention pattern of the system (full, per-frame, window x temporal, routed groups) lowers
 * to this one varlen description, and one op (`groupedAttention`) executes any of them on every
 * backend. It lives in core/ so that the builders (attention/), the op contract (core/op-spec.ts)
 * and the kernels (backends/) share the one type and the one validator.
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
 * arrays not Int32Array, offsets not monotone or not covering the index arrays, indices out of
 * range, a query row in two segments. Kernels trust a plan that passed. Returns the largest
 * segment's key/value count (kernels size their scratch by it). Cost O(plan size + nq).
 */
export function validatePlan(plan: AttentionPlan, nq: number, nk: number): number {
  const { qIndex, qOffsets, kvIndex, kvOffsets } = plan;
  for (const name of ['qIndex', 'qOffsets', 'kvIndex', 'kvOffsets'] as const)
    if (!(plan[name] instanceof Int32Array)) throw new Error(`attention plan: ${name} must be an Int32Array`);
  if (qOffsets.length < 1 || qOffsets.length !== kvOffsets.length)
    throw new Error(
      `attention plan: qOffsets (${qOffsets.length}) and kvOffsets (${kvOffsets.length}) need the same length >= 1 (segments + 1)`,
    );
  const segs = qOffsets.length - 1;
  checkOffsets('q', qOffsets, qIndex.length, segs);
  checkOffsets('kv', kvOffsets, kvIndex.length, segs);
  const owner = new Int32Array(nq).fill(-1);
  let maxKv = 0;
  for (let s = 0; s < segs; s++) {
    maxKv = Math.max(maxKv, kvOffsets[s + 1] - kvOffsets[s]);
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
  return maxKv;
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
