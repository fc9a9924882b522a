/**
 * The MoGA router (one per attention layer): linear d_model -> M, softmax, hard top-1.
 * No capacity limit and no token dropping: groups may be empty or hold one token. The router learns
 * through the gate (the chosen probability multiplies the routed branch's output) and through the
 * group-balancing loss, which keeps it from collapsing onto few groups.
 */
import { initLinear, type Linear, linear } from '../nn/linear.js';
import { argmax, cast, div, equal, gatherRows, mul, reshape, softmax, sum } from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';

export interface MoGARouterParams {
  proj: Linear; // weight [M, dModel], no bias
}

export interface MoGARouterOptions {
  /** Weight of the group-balancing loss (paper: 0.1). */
  alpha?: number;
  /**
   * 'switch' (default, ours): P_i = mean over all tokens of p(i|x), as in Switch Transformer.
   * 'printed': the paper's printed form, P_i = (1/N) * sum over tokens x of group i of p(g(x)|x).
   */
  balance?: 'switch' | 'printed';
}

export interface MoGARouting {
  /** Group of each token, in [0, M), where the router ran. Shared by all heads. */
  groups: Tensor; // int32 [N]
  /**
   * groups and the tokens per group on the host; left out on a backend that builds routed plans
   * itself (Backend.routedPlan: cuda), where routing never comes to the host.
   */
  groupIds?: Int32Array; // [N]
  counts?: Int32Array; // [M]
  /** p(g(x)|x), differentiable: multiplies the routed branch's output. */
  gate: Tensor; // [N]
  probs: Tensor; // [N, M]
  /** alpha * M * sum_i F_i * P_i, a scalar to add to the training loss. */
  balanceLoss: Tensor; // []
}

function init(rng: Rng, dModel: number, numGroups: number): MoGARouterParams {
  if (!Number.isInteger(numGroups) || numGroups < 1)
    throw new Error(`MoGARouter: numGroups must be >= 1, got ${numGroups}`);
  return { proj: initLinear(rng, dModel, numGroups, { bias: false }) };
}

/** x [N, dModel] (video tokens only; text never enters the router) -> routing. */
function apply(p: MoGARouterParams, x: Tensor, opts: MoGARouterOptions = {}): MoGARouting {
  const alpha = opts.alpha ?? 0.1;
  const balance = opts.balance ?? 'switch';
  if (x.rank !== 2 || x.shape[1] !== p.proj.weight.shape[1])
    throw new Error(`MoGARouter: x must be [N, ${p.proj.weight.shape[1]}], got ${x}`);
  const [n] = x.shape;
  const m = p.proj.weight.shape[0];
  const probs = softmax(linear(p.proj, x), -1); // [N, M]
  const groups = argmax(probs, -1);
  const c = (alpha * m) / Math.max(n, 1);
  if (x.backend.routedPlan) return onDevice(probs, groups, c, balance);
  const groupIds = groups.dataSync() as Int32Array;
  const counts = new Int32Array(m);
  for (let i = 0; i < n; i++) counts[groupIds[i]]++;
  const pick = new Int32Array(n);
  for (let i = 0; i < n; i++) pick[i] = i * m + groupIds[i];
  const gate = reshape(gatherRows(reshape(probs, [n * m, 1]), fromArray(pick, [n], x.backend)), [n]);
  // F_i = counts_i / N is piecewise constant (no gradient), as in the paper and Switch.
  let balanceLoss: Tensor;
  if (balance === 'switch') {
    const f = Float32Array.from(counts, (k) => k / Math.max(n, 1));
    balanceLoss = mul(sum(mul(probs, fromArray(f, [m], x.backend))), c);
  } else {
    const fg = Float32Array.from(groupIds, (g) => counts[g] / Math.max(n, 1));
    balanceLoss = mul(sum(mul(gate, fromArray(fg, [n], x.backend))), c);
  }
  return { groups, groupIds, counts, gate, probs, balanceLoss };
}

/**
 * The same routing as tensor ops only, for a backend that builds the plan from `groups` itself:
 * nothing is read back. A one-hot of the groups gives both the gate (the chosen probability: the
 * one nonzero term of its row, so the same value and gradient as the host path's gather) and the
 * counts (F_i = counts_i / N, one rounding as on the host).
 */
function onDevice(probs: Tensor, groups: Tensor, c: number, balance: 'switch' | 'printed'): MoGARouting {
  const [n, m] = probs.shape;
  const be = probs.backend;
  const ids = fromArray(
    Float32Array.from({ length: m }, (_, j) => j),
    [m],
    be,
  );
  const oneHot = equal(cast(reshape(groups, [n, 1]), 'float32'), ids); // [N, M], no gradient
  const gate = sum(mul(probs, oneHot), -1); // [N]
  const f = div(sum(oneHot, 0), Math.max(n, 1)); // [M]
  const balanceLoss =
    balance === 'switch'
      ? mul(sum(mul(probs, f)), c)
      : mul(sum(mul(gate, reshape(gatherRows(reshape(f, [m, 1]), groups), [n]))), c);
  return { groups, gate, probs, balanceLoss };
}

/** What a routing tap sees: one sample's group per token, for one routed attention layer. */
export interface RoutingView {
  /** Group of each token of the batch's first sample, token = (f * H + y) * W + x. */
  readonly groupIds: Int32Array;
  readonly groups: number;
}

let routingTap: ((r: RoutingView) => void) | undefined;

/**
 * Runs `body` with `fn` called for every routing decision made inside it (one call per routed
 * layer of each DiT pass, in layer order): what `generate --maps` draws. Synchronous only.
 */
export function tapRouting<T>(fn: (r: RoutingView) => void, body: () => T): T {
  const prev = routingTap;
  routingTap = fn;
  try {
    return body();
  } finally {
    routingTap = prev;
  }
}

/** Whether a tap is set (routing built on the device is read back only for one). */
export function routingTapped(): boolean {
  return routingTap !== undefined;
}

/** Hands one sample's routing to the tap, when one is set (VisualAttention calls it). */
export function reportRouting(groupIds: Int32Array, groups: number): void {
  routingTap?.({ groupIds: groupIds.slice(), groups });
}

/** The router as a module: `MoGARouter.init(rng, dModel, M)`, `MoGARouter.apply(params, x, opts)`. */
export const MoGARouter = { init, apply };
