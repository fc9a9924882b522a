/** The one attention op every pattern runs through: q/k/v plus a plan. */
import { apply, type Tensor } from '../tensor/tensor.js';
import { type AttentionPlan, validatePlan } from './plan.js';

export interface GroupedAttentionOptions {
  /** Softmax scale; default 1/sqrt(D). */
  scale?: number;
  /** Skip plan validation (the caller built the plan with a builder and checked it once). */
  trusted?: boolean;
}

/**
 * q [Nq,H,D], k/v [Nk,H,D] (token-major, FlashAttention varlen layout) -> [Nq,H,D].
 * Each query row attends to the key/value rows of its plan segment; rows in no segment (or in a
 * segment without keys) get zeros. Differentiable in q, k and v.
 */
export function groupedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  plan: AttentionPlan,
  opts: GroupedAttentionOptions = {},
): Tensor {
  if (q.rank !== 3 || k.rank !== 3)
    throw new Error(`groupedAttention: q and k must be [N,H,D], got ${q} and ${k}`);
  if (!opts.trusted) validatePlan(plan, q.shape[0], k.shape[0]);
  const scale = opts.scale ?? 1 / Math.sqrt(q.shape[2]);
  const { qIndex, qOffsets, kvIndex, kvOffsets } = plan;
  return apply('groupedAttention', [q, k, v], { qIndex, qOffsets, kvIndex, kvOffsets, scale })[0];
}
