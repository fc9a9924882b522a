/**
 * Visual self-attention with MoGA + STGA (paper section 2): q/k/v projections, RMS norm on q and k,
 * 3D rotary embedding, then the branches -- routed (MoGA groups, output times the router's gate),
 * window x temporal (STGA, shot-aware) and per-frame -- averaged, then the output projection.
 * The branch list is configuration, so the same module runs as full attention or local-only
 * attention for ablations.
 */

import { applyRope, gridPositions, rope3dTables } from '../nn/embeddings.js';
import { initLinear, type Linear, linear } from '../nn/linear.js';
import { applyRmsNorm, initRmsNorm, type Norm } from '../nn/norm.js';
import { add, concat, mul, reshape } from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { disposeIfNoGrad, fromArray, type Tensor, tidyIfNoGrad } from '../tensor/tensor.js';
import { groupedAttention } from './grouped-attention.js';
import { type AttentionPlan, batchPlans } from './plan.js';
import { type GridLayout, plans as planBuilders, shotOfFrame } from './plans.js';
import {
  MoGARouter,
  type MoGARouterParams,
  type MoGARouting,
  reportRouting,
  routingTapped,
} from './router.js';

/** 'routed' = MoGA groups, 'window' = STGA, 'frame' = per-frame, 'full' = dense (ablation). */
export const ATTENTION_BRANCHES = ['routed', 'window', 'frame', 'full'] as const;
export type AttentionBranch = (typeof ATTENTION_BRANCHES)[number];

/** Refuses an empty list or an unknown name (a config typo must not silently change the model). */
export function checkBranches(branches: readonly string[]): void {
  if (branches.length === 0) throw new Error('VisualAttention: branches must not be empty');
  for (const b of branches)
    if (!(ATTENTION_BRANCHES as readonly string[]).includes(b))
      throw new Error(
        `VisualAttention: unknown attention branch '${b}' (valid: ${ATTENTION_BRANCHES.join(', ')})`,
      );
}

export interface VisualAttentionConfig {
  readonly dim: number;
  readonly heads: number;
  /** Branches whose outputs are averaged. MoGA + STGA: ['routed', 'window', 'frame']. */
  readonly branches: readonly AttentionBranch[];
  /** M, the number of routed groups. */
  readonly numGroups: number;
  /** STGA spatial windows per side [y, x]; temporal group length (frames); adjacent-shot kv frames. */
  readonly window: readonly [number, number];
  readonly temporalGroup?: number;
  readonly adjacentFrames?: number;
  /**
   * Ours: routed groups span the whole video by default (a group may hold tokens of several shots,
   * which is what lets MoGA keep characters consistent across cuts); true splits groups by shot.
   */
  readonly routedPerShot?: boolean;
  readonly balance?: 'switch' | 'printed';
  readonly alpha?: number;
  readonly eps?: number;
  /** Rotary position per grid step on y and x (absent: 1; models/presets.ts `ropeScale`). */
  readonly ropeScale?: number;
}

/** MoGA + STGA defaults for a model of `dim` and `heads` (paper: M = 5, 2x2 windows). */
export function visualAttentionConfig(
  dim: number,
  heads: number,
  o: Partial<VisualAttentionConfig> = {},
): VisualAttentionConfig {
  return { dim, heads, branches: ['routed', 'window', 'frame'], numGroups: 5, window: [2, 2], ...o };
}

export interface VisualAttentionParams {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  normQ: Norm;
  normK: Norm;
  router?: MoGARouterParams;
}

export interface VisualAttentionOutput {
  out: Tensor; // same shape as x
  /** The router's balancing loss (zero-size branch list without 'routed': undefined). */
  balanceLoss?: Tensor;
  routing?: MoGARouting;
}

function init(rng: Rng, cfg: VisualAttentionConfig): VisualAttentionParams {
  const { dim, heads } = cfg;
  if (dim % heads) throw new Error(`VisualAttention: dim ${dim} is not divisible by heads ${heads}`);
  checkBranches(cfg.branches);
  const p: VisualAttentionParams = {
    q: initLinear(rng.fork(1), dim, dim),
    k: initLinear(rng.fork(2), dim, dim),
    v: initLinear(rng.fork(3), dim, dim),
    o: initLinear(rng.fork(4), dim, dim),
    normQ: initRmsNorm(dim, cfg.eps),
    normK: initRmsNorm(dim, cfg.eps),
  };
  if (cfg.branches.includes('routed')) p.router = MoGARouter.init(rng.fork(5), dim, cfg.numGroups);
  return p;
}

// Fixed-branch plans depend only on the layout and options: memoised across layers, steps and
// training examples (they are plain index arrays, no tensors).
const planMemo = new Map<string, AttentionPlan>();
function memoPlan(key: string, build: () => AttentionPlan): AttentionPlan {
  let p = planMemo.get(key);
  if (!p) {
    if (planMemo.size >= 64) planMemo.clear();
    p = build();
    planMemo.set(key, p);
  }
  return p;
}

/**
 * What the attention needs that does not depend on x, for B samples on one layout: the rotary
 * tables repeated for the batch ([B*L, headDim/2]) and the plans of the fixed branches (window,
 * frame, full) over the batch. A DiT builds it once per layout and batch and passes it to every
 * layer and sampler step; the caller owns (and disposes) the rotary tensors.
 */
export interface VisualAttentionStatics {
  readonly batch: number;
  readonly rope: { readonly cos: Tensor; readonly sin: Tensor };
  readonly plans: ReadonlyMap<AttentionBranch, AttentionPlan>;
}

export function visualAttentionStatics(
  cfg: VisualAttentionConfig,
  layout: GridLayout,
  batch: number,
): VisualAttentionStatics {
  checkBranches(cfg.branches);
  const L = layout.frames * layout.height * layout.width;
  const one = ropeFor(layout, cfg.dim / cfg.heads, cfg.ropeScale);
  let rope = one;
  if (batch !== 1) {
    rope = { cos: concat(Array(batch).fill(one.cos), 0), sin: concat(Array(batch).fill(one.sin), 0) };
    one.cos.dispose();
    one.sin.dispose();
  }
  const plans = new Map<AttentionBranch, AttentionPlan>();
  const lkey = JSON.stringify(layout);
  for (const branch of cfg.branches) {
    if (branch === 'routed') continue; // depends on x: routed afresh every pass
    const key = `${branch}|${lkey}|${cfg.window}|${cfg.temporalGroup}|${cfg.adjacentFrames}`;
    const plan = memoPlan(key, () =>
      branch === 'window'
        ? planBuilders.windows(layout, {
            window: cfg.window,
            temporalGroup: cfg.temporalGroup,
            adjacentFrames: cfg.adjacentFrames,
          })
        : branch === 'frame'
          ? planBuilders.perFrame(layout)
          : planBuilders.full(L),
    );
    plans.set(branch, repeatPlan(plan, batch, L));
  }
  return { batch, rope, plans };
}

function repeatPlan(plan: AttentionPlan, batch: number, rows: number): AttentionPlan {
  return batch === 1 ? plan : batchPlans(Array.from({ length: batch }, () => ({ plan, qRows: rows })));
}

/**
 * x [L, dim] or [B, L, dim] with L = frames*height*width of `layout` (token = (f*H + y)*W + x).
 * `statics` (see visualAttentionStatics) may be passed to share them across layers and steps;
 * without it they are built for this call and freed by the enclosing scope.
 */
function apply(
  p: VisualAttentionParams,
  cfg: VisualAttentionConfig,
  x: Tensor,
  layout: GridLayout,
  statics?: VisualAttentionStatics,
): VisualAttentionOutput {
  const { dim, heads } = cfg;
  const hd = dim / heads;
  const L = layout.frames * layout.height * layout.width;
  const B = x.rank === 3 ? x.shape[0] : 1;
  if ((x.rank !== 2 && x.rank !== 3) || x.shape[x.rank - 1] !== dim || x.shape[x.rank - 2] !== L)
    throw new Error(
      `VisualAttention: x must be [${L}, ${dim}] or [B, ${L}, ${dim}] for the layout, got ${x}`,
    );
  const st = statics ?? visualAttentionStatics(cfg, layout, B);
  if (st.batch !== B)
    throw new Error(`VisualAttention: statics were built for batch ${st.batch}, x has batch ${B}`);
  const N = B * L;
  const xf = reshape(x, [N, dim]);
  const { cos, sin } = st.rope;
  // without autodiff, each stage's temporaries are freed as soon as it is done (same numbers)
  const stage = tidyIfNoGrad;
  const q = stage(() => applyRope(reshape(applyRmsNorm(p.normQ, linear(p.q, xf)), [N, heads, hd]), cos, sin)); // (N, h, hd)
  const k = stage(() => applyRope(reshape(applyRmsNorm(p.normK, linear(p.k, xf)), [N, heads, hd]), cos, sin));
  const v = stage(() => reshape(linear(p.v, xf), [N, heads, hd])); // a scope: the view then owns the storage

  let sumOut: Tensor | undefined;
  let routing: MoGARouting | undefined;
  for (const branch of cfg.branches) {
    let o: Tensor;
    if (branch === 'routed') {
      if (!p.router) throw new Error("VisualAttention: the 'routed' branch needs router parameters");
      const r = stage(() => {
        const rt = MoGARouter.apply(p.router!, xf, { alpha: cfg.alpha, balance: cfg.balance });
        const a = groupedAttention(q, k, v, routedPlan(rt, cfg, layout, B), { trusted: true });
        return { o: mul(a, reshape(rt.gate, [N, 1, 1])), routing: rt };
      });
      routing = r.routing;
      o = r.o;
    } else o = stage(() => groupedAttention(q, k, v, st.plans.get(branch)!, { trusted: true }));
    if (!sumOut) sumOut = o;
    else {
      const prev = sumOut;
      sumOut = add(prev, o);
      disposeIfNoGrad(prev);
      disposeIfNoGrad(o);
    }
  }
  for (const t of [q, k, v]) disposeIfNoGrad(t);
  const n = cfg.branches.length;
  const mixed = n === 1 ? sumOut! : mul(sumOut!, 1 / n); // (N, h, hd): mean of branches
  const out = linear(p.o, reshape(mixed, [N, dim]));
  return { out: reshape(out, [...x.shape]), balanceLoss: routing?.balanceLoss, routing };
}

/**
 * The routed branch's plan over the batch: one segment per (sample, shot when routedPerShot,
 * group). Built where the routing is when the backend can (Backend.routedPlan: the keys go to it
 * as a tensor and nothing is read back), else on the host from the group ids.
 */
function routedPlan(
  rt: MoGARouting,
  cfg: VisualAttentionConfig,
  layout: GridLayout,
  B: number,
): AttentionPlan {
  const M = cfg.numGroups;
  const L = layout.frames * layout.height * layout.width;
  const be = rt.groups.backend;
  if (be.routedPlan) {
    if (routingTapped()) reportRouting((rt.groups.dataSync() as Int32Array).subarray(0, L), M);
    const shot = cfg.routedPerShot ? shotOfFrame(layout) : undefined;
    const shots = shot ? shot[shot.length - 1] + 1 : 1;
    if (B === 1 && shots === 1) return be.routedPlan(rt.groups, M);
    // key = (sample * shots + shot) * M + group: the offset is layout data, not routing
    const perFrame = layout.height * layout.width;
    const base = Int32Array.from({ length: B * L }, (_, i) => {
      const b = Math.floor(i / L);
      return (b * shots + (shot ? shot[Math.floor((i % L) / perFrame)] : 0)) * M;
    });
    return be.routedPlan(add(rt.groups, fromArray(base, [B * L], be)), B * shots * M);
  }
  const ids = rt.groupIds!;
  reportRouting(ids.subarray(0, L), M);
  const per = Array.from({ length: B }, (_, b) => ({
    plan: planBuilders.routed(
      ids.subarray(b * L, (b + 1) * L),
      M,
      cfg.routedPerShot ? { perShot: layout } : {},
    ),
    qRows: L,
  }));
  return B === 1 ? per[0].plan : batchPlans(per);
}

/** 3D rotary tables for every token of `layout` ([L, headDim/2] cos and sin). */
export function ropeFor(layout: GridLayout, headDim: number, scale = 1): { cos: Tensor; sin: Tensor } {
  const p = gridPositions(layout.frames, layout.height, layout.width);
  if (scale === 1) return rope3dTables(p, headDim);
  return rope3dTables(
    { f: p.f, y: Float32Array.from(p.y, (v) => v * scale), x: Float32Array.from(p.x, (v) => v * scale) },
    headDim,
  );
}

/** The module: `VisualAttention.init(rng, cfg)`, `VisualAttention.apply(params, cfg, x, layout)`. */
export const VisualAttention = { init, apply, config: visualAttentionConfig };
