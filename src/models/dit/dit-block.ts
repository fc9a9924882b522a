/**
 * One DiT block, Wan2.1 style, in the order the paper draws it:
 *
 *   e = modulation + time_projection(t)                       (6, dim): shift/scale/gate x 2
 *   x = x + gate1 * VisualAttention(LN(x) * (1 + scale1) + shift1)   (MoGA + STGA self-attention)
 *   x = x + CrossAttention(LN_affine(x), text)                        (each shot -> its caption)
 *   x = x + gate2 * FFN(LN(x) * (1 + scale2) + shift2)
 *
 * adaLN-zero: gates start at zero (and the cross-attention output projection at zero), so every
 * block is the identity at initialisation and training starts from a stable network.
 */

import { groupedAttention } from '../../attention/grouped-attention.js';
import type { AttentionPlan } from '../../attention/plan.js';
import type { GridLayout } from '../../attention/plans.js';
import {
  VisualAttention,
  type VisualAttentionConfig,
  type VisualAttentionParams,
  type VisualAttentionStatics,
} from '../../attention/visual-attention.js';
import { initLinear, type Linear, linear } from '../../nn/linear.js';
import { initMlp, type Mlp, mlp } from '../../nn/mlp.js';
import { applyLayerNorm, applyRmsNorm, initLayerNorm, initRmsNorm, type Norm } from '../../nn/norm.js';
import { add, layerNorm, mul, reshape, sliceAxis } from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import { disposeIfNoGrad, fromArray, type Tensor, tidyIfNoGrad } from '../../tensor/tensor.js';
import type { DiTConfig } from '../presets.js';

export interface CrossAttentionParams {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  normQ: Norm;
  normK: Norm;
}

export interface DiTBlockParams {
  /** Learned per-block modulation table added to the projected time embedding. */
  modulation: Tensor; // [6, dim]
  selfAttn: VisualAttentionParams;
  crossNorm: Norm;
  crossAttn: CrossAttentionParams;
  ffn: Mlp;
}

/** The self-attention module's config from a DiT config (preset names -> VisualAttention's). */
export function visualAttentionOf(c: DiTConfig): VisualAttentionConfig {
  const a = c.attention;
  return {
    dim: c.dim,
    heads: c.heads,
    branches: a.branches,
    numGroups: a.groups,
    window: a.window,
    temporalGroup: a.temporalGroup > 0 ? a.temporalGroup : undefined, // 0 = whole shot
    adjacentFrames: a.adjacentFrames,
    alpha: a.alpha,
    eps: c.eps,
    ropeScale: c.ropeScale,
  };
}

/** Rows 2 and 5 of the table are the gates: zero (adaLN-zero); shifts and scales ~ N(0, 1/dim) as Wan. */
function initModulation(rng: Rng, dim: number): Tensor {
  const t = rng.normalArray(6 * dim);
  for (let i = 0; i < 6 * dim; i++) t[i] = Math.floor(i / dim) % 3 === 2 ? 0 : t[i] / Math.sqrt(dim);
  return fromArray(t, [6, dim]);
}

export function initDiTBlock(rng: Rng, c: DiTConfig): DiTBlockParams {
  const { dim } = c;
  const zeroOut = initLinear(rng.fork(14), dim, dim, { std: 0 });
  return {
    modulation: initModulation(rng.fork(10), dim),
    selfAttn: VisualAttention.init(rng.fork(11), visualAttentionOf(c)),
    crossNorm: initLayerNorm(dim, { eps: c.eps }),
    crossAttn: {
      q: initLinear(rng.fork(12), dim, dim),
      k: initLinear(rng.fork(13), dim, dim),
      v: initLinear(rng.fork(15), dim, dim),
      o: zeroOut,
      normQ: initRmsNorm(dim, c.eps),
      normK: initRmsNorm(dim, c.eps),
    },
    ffn: initMlp(rng.fork(16), dim, c.ffnDim),
  };
}

/** Everything a block needs besides its parameters and x, shared by all blocks of a forward. */
export interface BlockContext {
  readonly config: DiTConfig;
  readonly attention: VisualAttentionConfig;
  readonly layout: GridLayout; // the token grid with shot starts
  readonly self: VisualAttentionStatics; // rotary tables and fixed-branch plans for the batch
  readonly timeMod: Tensor; // [B, 6, dim], the projected time embedding of each sample
  readonly text: Tensor; // [Lt, dim], embedded caption rows of all samples, sample-major
  readonly textPlan: AttentionPlan; // rows of the batch [B*N] -> rows of `text`
}

/** x [B, N, dim] -> { x [B, N, dim], the router's balancing loss if the routed branch is on }. */
export function ditBlock(
  p: DiTBlockParams,
  ctx: BlockContext,
  x: Tensor,
): { x: Tensor; balanceLoss?: Tensor } {
  const { eps } = ctx.config;
  const e = add(p.modulation, ctx.timeMod); // (B, 6, dim)
  const [shift1, scale1, gate1, shift2, scale2, gate2] = [0, 1, 2, 3, 4, 5].map((i) =>
    sliceAxis(e, 1, i, i + 1),
  ); // (B, 1, dim), broadcast over the tokens

  // Without autodiff nothing needs the intermediates afterwards: each stage runs in its own scope
  // and the residual stream it replaces is freed, so sampling holds one stage's activations at a
  // time instead of the whole network's (the same ops in the same order: identical numbers).
  const stage = tidyIfNoGrad;
  const input = x;
  const advance = (next: Tensor) => {
    if (x !== input) disposeIfNoGrad(x);
    x = next;
  };

  // 1. modulated visual self-attention (MoGA + STGA)
  const sa = stage(() => {
    const h1 = stage(() => modulate(layerNorm(x, undefined, undefined, eps), shift1, scale1));
    const r = VisualAttention.apply(p.selfAttn, ctx.attention, h1, ctx.layout, ctx.self);
    return { x: add(x, mul(r.out, gate1)), balanceLoss: r.balanceLoss };
  });
  advance(sa.x);

  // 2. cross-attention: each shot's video tokens to that shot's caption and the global caption
  advance(
    stage(() =>
      add(
        x,
        stage(() =>
          crossAttention(
            p.crossAttn,
            ctx,
            stage(() => applyLayerNorm(p.crossNorm, x)),
          ),
        ),
      ),
    ),
  );

  // 3. modulated feed-forward
  advance(
    stage(() => {
      const h2 = stage(() => modulate(layerNorm(x, undefined, undefined, eps), shift2, scale2));
      return add(
        x,
        stage(() => mul(mlp(p.ffn, h2), gate2)),
      );
    }),
  );
  return { x, balanceLoss: sa.balanceLoss };
}

function modulate(h: Tensor, shift: Tensor, scale: Tensor): Tensor {
  return add(mul(h, add(scale, 1)), shift);
}

/** x [B, N, dim] (queries), ctx.text [Lt, dim] (keys/values) -> [B, N, dim]. No rotary: text has no grid. */
function crossAttention(p: CrossAttentionParams, ctx: BlockContext, x: Tensor): Tensor {
  const { dim, heads } = ctx.config;
  const hd = dim / heads;
  const n = x.shape[0] * x.shape[1];
  const [lt] = ctx.text.shape;
  const q = reshape(applyRmsNorm(p.normQ, linear(p.q, x)), [n, heads, hd]); // (B*N, h, hd)
  const k = reshape(applyRmsNorm(p.normK, linear(p.k, ctx.text)), [lt, heads, hd]); // (Lt, h, hd)
  const v = reshape(linear(p.v, ctx.text), [lt, heads, hd]); // (Lt, h, hd)
  const o = groupedAttention(q, k, v, ctx.textPlan, { trusted: true }); // (B*N, h, hd)
  return linear(p.o, reshape(o, [...x.shape])); // (B, N, dim)
}
