/**
 * VideoDiT: the Wan2.1 video diffusion transformer with MoGA visual attention.
 *
 *   latents [C, F, H, W] --patchify (1x2x2)--> tokens [N, C*pt*ph*pw] --linear--> x [N, dim]
 *   (with config.conditioning: [x_t; given latent * mask; mask] [2C+1, F, H, W] is patchified
 *   instead, and the patch embedding's extra input columns start at zero: see `GivenFrames`;
 *   config.selfCondition appends the previous x0 estimate [C, F, H, W] the same way)
 *   t --sinusoid(1000 t)--> MLP (SiLU) --> temb [dim] --SiLU, linear--> timeMod [6, dim]
 *   captions (per shot + global) --MLP (GELU)--> text [Lt, dim]
 *   x --blocks (self-attn, cross-attn, FFN; AdaLN from timeMod)--> x
 *   x --LN, modulate by (head table + temb), linear--> [N, pt*ph*pw*C] --unpatchify--> v [C, F, H, W]
 *   (with config.cellHead: v plus a correction at the cell's resolution from v, x_t and more
 *   channels of the token head: cell-head.ts)
 *
 * A batch of B samples runs as x [B, N, dim] when the samples share the latent size and the shot
 * layout (captions may differ: the cross-attention plan is per sample); `videoDiT` is B = 1.
 *
 * Parameters are a plain tree (checkpoint names follow it); the model object holds the frozen
 * config and the attention configuration resolved once at construction.
 */
import { type AttentionPlan, batchPlans } from '../../attention/plan.js';
import type { GridLayout } from '../../attention/plans.js';
import {
  type VisualAttentionConfig,
  type VisualAttentionStatics,
  visualAttentionStatics,
} from '../../attention/visual-attention.js';
import type { Shape } from '../../core/shape.js';
import { timestepEmbedding } from '../../nn/embeddings.js';
import { initLinear, type Linear, linear } from '../../nn/linear.js';
import { type Mlp, mlp } from '../../nn/mlp.js';
import { add, concat, layerNorm, mul, reshape, silu, sliceAxis } from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import {
  disposeIfNoGrad,
  fromArray,
  isGradEnabled,
  type Tensor,
  tidy,
  tidyIfNoGrad,
} from '../../tensor/tensor.js';
import { type DiTConfig, ditInputChannels } from '../presets.js';
import { type CellHeadParams, cellHead, initCellHead } from './cell-head.js';
import {
  type BlockContext,
  type DiTBlockParams,
  ditBlock,
  initDiTBlock,
  visualAttentionOf,
} from './dit-block.js';
import { patchGrid, patchify, unpatchify } from './patch.js';
import { type MultiShotText, shotStarts, shotTextPlan, textRows } from './text.js';

export interface VideoDiTParams {
  patchEmbed: Linear; // [dim, C*pt*ph*pw] (Conv3d weight [dim, C, pt, ph, pw], flattened)
  textEmbed: Mlp; // textDim -> dim -> dim, GELU(tanh)
  timeEmbed: { fc1: Linear; fc2: Linear }; // freqDim -> dim -> dim, SiLU
  timeProj: Linear; // dim -> 6*dim, after SiLU; zero at init (adaLN-zero)
  blocks: DiTBlockParams[];
  head: { modulation: Tensor /* [2, dim] */; proj: Linear /* dim -> pt*ph*pw*C, zero at init */ };
  cellHead?: CellHeadParams; // config.cellHead only
}

export interface VideoDiT {
  readonly config: DiTConfig;
  /** The self-attention configuration, resolved once from `config.attention`. */
  readonly attention: VisualAttentionConfig;
  readonly params: VideoDiTParams;
}

export interface DiTInput {
  readonly latents: Tensor; // [C, F, H, W]
  /** Flow time in [0, 1] (0 = data, 1 = noise). */
  readonly t: number;
  readonly text: MultiShotText;
  /** Known frames (a DiT with config.conditioning only; absent = none given). */
  readonly given?: GivenFrames;
  /** The previous clean-latent estimate [C, F, H, W] (config.selfCondition only; absent = zeros). */
  readonly previous?: Tensor;
}

/**
 * Known latent frames, the one conditioning mechanism of a DiT with `config.conditioning` (image
 * to video, regenerating some shots, extending a video all reduce to it). The network reads them
 * as extra input channels beside x_t: the latent times the mask, then the mask [1, F, H, W] (1 on
 * every cell of a given latent frame). What the sampler does with them is in diffusion/sample.ts
 * (`given`), what training does in objective.ts (`conditioning`).
 */
export interface GivenFrames {
  /** [C, F, H, W] like x_t; its values on frames that are not given are ignored. */
  readonly latent: Tensor;
  /** Per latent frame: 1 given (kept), 0 to generate. */
  readonly frames: readonly number[];
  /**
   * `latent` is a whole earlier generation's (regenerate): generate decodes the video frames of
   * given latent frames from it, so they are that video's frames byte for byte. The DiT ignores it.
   */
  readonly whole?: boolean;
  /**
   * Latent frames where decoding starts afresh (image to video, a shot's first frame after the
   * first shot), each with the primer the decoder reads first: the image's latent frame 0 alone,
   * [C, 1, H, W]. The frames then decode as the VAE's own round trip of the still, not after the
   * previous shot's frames. The DiT ignores it.
   */
  readonly restarts?: readonly { readonly frame: number; readonly primer: Tensor }[];
}

/** Frees what a GivenFrames holds (its latent and its restarts' primers). */
export function disposeGiven(g: GivenFrames): void {
  g.latent.dispose();
  for (const r of g.restarts ?? []) r.primer.dispose();
}

/** The mask [1, F, H, W] of `frames` (1 on given latent frames) for latents of `shape`. */
export function givenMask(frames: readonly number[], shape: Shape): Tensor {
  const [, F, H, W] = shape;
  if (frames.length !== F) throw new Error(`given frames: ${frames.length} flags for ${F} latent frames`);
  const m = new Float32Array(F * H * W);
  frames.forEach((v, f) => {
    if (v !== 0 && v !== 1) throw new Error(`given frames: flag ${f} is ${v}, expected 0 or 1`);
    m.fill(v, f * H * W, (f + 1) * H * W);
  });
  return fromArray(m, [1, F, H, W]);
}

export interface DiTOutput {
  readonly velocity: Tensor; // [C, F, H, W]
  /** One group-balancing loss per block with a routed branch (already weighted by alpha). */
  readonly balanceLosses: Tensor[];
}

export function initVideoDiT(config: DiTConfig, rng: Rng): VideoDiT {
  const { dim, heads, latentChannels: C, patch, layers } = config;
  if (dim % heads) throw new Error(`VideoDiT: dim ${dim} is not divisible by heads ${heads}`);
  if ((dim / heads) % 2)
    throw new Error(`VideoDiT: head dim ${dim / heads} must be even for the rotary embedding`);
  const patchDim = C * patch[0] * patch[1] * patch[2];
  // the x_t columns are drawn as for an unconditioned model; the conditioning columns start at
  // zero, so a fresh conditioned model computes what the unconditioned one of its seed does
  const patchEmbed = initLinear(rng.fork(1), patchDim, dim);
  if (config.conditioning || config.selfCondition) {
    const inDim = ditInputChannels(config) * patch[0] * patch[1] * patch[2];
    patchEmbed.weight = widenColumns(patchEmbed.weight, inDim);
  }
  const headMod = rng
    .fork(6)
    .normalArray(2 * dim)
    .map((v) => v / Math.sqrt(dim));
  const params: VideoDiTParams = {
    patchEmbed,
    textEmbed: { fc1: initLinear(rng.fork(2), config.textDim, dim), fc2: initLinear(rng.fork(8), dim, dim) },
    timeEmbed: { fc1: initLinear(rng.fork(3), config.freqDim, dim), fc2: initLinear(rng.fork(4), dim, dim) },
    timeProj: initLinear(rng.fork(5), dim, 6 * dim, { std: 0 }),
    blocks: Array.from({ length: layers }, (_, i) => initDiTBlock(rng.fork(100 + i), config)),
    head: {
      modulation: fromArray(headMod, [2, dim]),
      proj: initLinear(rng.fork(7), dim, patchDim, { std: 0 }),
    },
  };
  if (config.cellHead) params.cellHead = initCellHead(rng.fork(9), dim, patchDim / C, C, config.cellHead);
  return { config, attention: visualAttentionOf(config), params };
}

/** w [out, in] -> [out, inDim], the new columns zero (the old ones first, as they were). */
export function widenColumns(w: Tensor, inDim: number): Tensor {
  const out = w.shape[0];
  const dst = padColumns(w.dataSync() as Float32Array, out, inDim);
  w.dispose();
  return fromArray(dst, [out, inDim]);
}

/** A row-major matrix `src` of `rows` rows -> `cols` columns per row, the new columns zero. */
export function padColumns(src: Float32Array, rows: number, cols: number): Float32Array {
  const din = src.length / rows;
  const dst = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) dst.set(src.subarray(r * din, (r + 1) * din), r * cols);
  return dst;
}

/** The velocity v(x_t, t | text) for one sample, and the routers' balancing losses. */
export function videoDiT(model: VideoDiT, input: DiTInput): DiTOutput {
  const out = videoDiTBatch(model, [input]);
  return { velocity: out.velocities[0], balanceLosses: out.balanceLosses };
}

export interface DiTBatchOutput {
  readonly velocities: Tensor[]; // B x [C, F, H, W]
  /** One per routed block, over the whole batch's tokens. */
  readonly balanceLosses: Tensor[];
}

/** B samples in one pass; they must share the latent size and the shot layout. */
export function videoDiTBatch(model: VideoDiT, inputs: readonly DiTInput[]): DiTBatchOutput {
  if (inputs.length === 0) throw new Error('VideoDiT: empty batch');
  // conditioned per call: its tensors stay in the caller's scope (and autodiff graph, in training)
  const cond = conditionDiT(
    model,
    inputs.map((i) => i.text),
    inputs[0].latents.shape,
    inputs.some((i) => i.given) ? inputs.map((i) => i.given) : undefined,
  );
  return videoDiTConditioned(
    model,
    cond,
    inputs.map((i) => i.latents),
    inputs.map((i) => i.t),
    inputs.some((i) => i.previous) ? inputs.map((i) => i.previous) : undefined,
  );
}

/**
 * The conditioning of a batch: everything a forward pass needs that depends on neither x_t nor t
 * (the token layout, the rotary tables and fixed self-attention plans, the embedded caption rows
 * and the cross-attention plan). The sampler conditions once per generation and runs every step
 * with it (`videoDiTConditioned`), then frees it (`disposeConditioning`).
 */
export interface DiTConditioning {
  /** [C, F, H, W] of every sample's latents. */
  readonly latentShape: Shape;
  readonly batch: number;
  readonly layout: GridLayout;
  readonly self: VisualAttentionStatics;
  readonly text: Tensor; // [Lt, dim], embedded caption rows of all samples, sample-major
  readonly textPlan: AttentionPlan; // rows of the batch [B*N] -> rows of `text`
  /** config.conditioning only: per sample [given latent * mask; mask] [C + 1, F, H, W]. */
  readonly given?: Tensor[];
}

/** Conditions B samples with these texts on latents of `latentShape`; see DiTConditioning. */
export function conditionDiT(
  model: VideoDiT,
  texts: readonly MultiShotText[],
  latentShape: Shape,
  /** Per sample, its known frames (undefined: none); needs config.conditioning. */
  given?: readonly (GivenFrames | undefined)[],
): DiTConditioning {
  const { config: c, params: p } = model;
  if (texts.length === 0) throw new Error('VideoDiT: empty batch');
  if (given && !c.conditioning && given.some((g) => g))
    throw new Error(
      'VideoDiT: known frames were given but this model has no conditioning input (dit.conditioning is not set)',
    );
  if (given && given.length !== texts.length)
    throw new Error(`VideoDiT: ${given.length} given-frame entries for ${texts.length} samples`);
  const layouts = texts.map((text) => layoutOf(c, latentShape, text));
  layouts.forEach((l, b) => {
    if (JSON.stringify(l) !== JSON.stringify(layouts[0]))
      throw new Error(
        `VideoDiT: batch sample ${b} has latent grid/shots ${JSON.stringify(l)} but sample 0 has ${JSON.stringify(layouts[0])}; a batch must share them (run such samples separately)`,
      );
  });
  const layout = layouts[0];
  const perFrame = layout.height * layout.width;
  const n = layout.frames * perFrame;
  const tokenStarts = layout.shotStarts!.map((f) => f * perFrame);
  const build = () => ({
    self: visualAttentionStatics(model.attention, layout, texts.length),
    text: mlp(
      p.textEmbed,
      concat(
        texts.map((text) => textRows(text)),
        0,
      ),
    ), // (Lt, dim), sample-major
  });
  // without autodiff no backward pass reads the intermediates: free them now, keep the results
  const { self, text } = isGradEnabled() ? build() : tidy(build);
  const givenInputs = c.conditioning
    ? texts.map((_, b) => givenChannels(c, latentShape, given?.[b]))
    : undefined;
  return {
    ...(givenInputs ? { given: givenInputs } : {}),
    latentShape: [...latentShape],
    batch: texts.length,
    layout,
    self,
    text,
    textPlan: batchPlans(
      texts.map((text) => {
        const lens = text.shots.map((s) => s.caption.shape[0]);
        const globalLen = text.global?.shape[0] ?? 0;
        const plan = shotTextPlan(tokenStarts, n, lens, globalLen);
        return { plan, qRows: n, kvRows: globalLen + lens.reduce((a, v) => a + v, 0) };
      }),
    ),
  };
}

/** [latent * mask; mask] [C + 1, F, H, W] of one sample; zeros when nothing is given. */
function givenChannels(c: DiTConfig, shape: Shape, g: GivenFrames | undefined): Tensor {
  const [C, F, H, W] = shape;
  if (!g) return fromArray(new Float32Array((C + 1) * F * H * W), [C + 1, F, H, W]);
  if (g.latent.shape.join() !== shape.join())
    throw new Error(`VideoDiT: given latent [${g.latent.shape}] differs from the latents [${shape}]`);
  if (C !== c.latentChannels)
    throw new Error(`VideoDiT: latents have ${C} channels, the model expects ${c.latentChannels}`);
  return tidy(() => {
    const mask = givenMask(g.frames, shape);
    return concat([mul(g.latent, mask), mask], 0);
  });
}

/** Frees a conditioning's tensors (never while an autodiff graph that read them is still needed). */
export function disposeConditioning(cond: DiTConditioning): void {
  for (const g of cond.given ?? []) g.dispose();
  cond.text.dispose();
  cond.self.rope.cos.dispose();
  cond.self.rope.sin.dispose();
}

/**
 * The forward pass of a conditioned batch: latents[b] at time ts[b] -> velocities[b]. `previous`:
 * with config.selfCondition, each sample's previous clean-latent estimate (undefined: none, zeros).
 */
export function videoDiTConditioned(
  model: VideoDiT,
  cond: DiTConditioning,
  latents: readonly Tensor[],
  ts: readonly number[],
  previous?: readonly (Tensor | undefined)[],
): DiTBatchOutput {
  const { config: c, params: p } = model;
  const { tokens, ctx, temb } = embedInputs(model, cond, latents, ts, previous);
  let x = tokens; // (B, N, dim)
  const balanceLosses: Tensor[] = [];
  for (const bp of p.blocks) {
    const r = ditBlock(bp, ctx, x);
    disposeIfNoGrad(x); // sampling: a block's input is garbage once its output exists
    x = r.x;
    if (r.balanceLoss) balanceLosses.push(r.balanceLoss);
  }

  // output head: LN, modulate by (table + temb) as Wan does, project to patch values
  const B = cond.batch;
  const cells = c.patch[0] * c.patch[1] * c.patch[2]; // latent cells per token
  const velocities = tidyIfNoGrad(() => {
    const e = add(p.head.modulation, reshape(temb, [B, 1, c.dim])); // (B, 2, dim)
    const [shift, scale] = [sliceAxis(e, 1, 0, 1), sliceAxis(e, 1, 1, 2)]; // (B, 1, dim)
    const h = tidyIfNoGrad(() => add(mul(layerNorm(x, undefined, undefined, c.eps), add(scale, 1)), shift));
    disposeIfNoGrad(x);
    const out = linear(p.head.proj, h); // (B, N, pt*ph*pw*C)
    const feat = p.cellHead && linear(p.cellHead.features, h); // (B, N, pt*ph*pw*E)
    disposeIfNoGrad(h);
    const n = out.shape[1];
    const perSample = (y: Tensor, b: number) =>
      unpatchify(
        reshape(sliceAxis(y, 0, b, b + 1), [n, y.shape[2]]),
        y.shape[2] / cells,
        cond.layout,
        c.patch,
      );
    return latents.map((xt, b) => {
      const x0 = perSample(out, b);
      return feat ? cellHead(p.cellHead!, x0, perSample(feat, b), xt, ts[b]) : x0;
    });
  });
  return { velocities, balanceLosses };
}

/**
 * The input side of the model: patch tokens [B, N, dim], the time embeddings [B, dim] and the
 * context every block shares (the conditioning plus the time modulation).
 */
export function embedInputs(
  model: VideoDiT,
  cond: DiTConditioning,
  latents: readonly Tensor[],
  ts: readonly number[],
  previous?: readonly (Tensor | undefined)[],
) {
  const { config: c, params: p } = model;
  const B = cond.batch;
  if (previous && !c.selfCondition && previous.some((x) => x))
    throw new Error('VideoDiT: a previous estimate was passed but this model has no self-conditioning input');
  if (previous && previous.length !== B)
    throw new Error(`VideoDiT: ${previous.length} previous estimates for ${B} samples`);
  if (latents.length !== B || ts.length !== B)
    throw new Error(
      `VideoDiT: conditioned for ${B} samples, got ${latents.length} latents and ${ts.length} times`,
    );
  latents.forEach((l, b) => {
    if (l.shape.join() !== cond.latentShape.join())
      throw new Error(
        `VideoDiT: batch sample ${b} has latents [${l.shape}] but the batch is conditioned on [${cond.latentShape}] (latent grid/shots must match)`,
      );
  });
  for (const t of ts) if (!(t >= 0 && t <= 1)) throw new Error(`VideoDiT: t must be in [0, 1], got ${t}`);
  const { layout } = cond;
  const n = layout.frames * layout.height * layout.width;
  const tokens = tidyIfNoGrad(() => {
    const inputs = (l: Tensor, b: number) => [
      l,
      ...(cond.given ? [cond.given[b]] : []),
      ...(c.selfCondition ? [previousOf(l, previous?.[b])] : []),
    ];
    const patches = concat(
      latents.map((l, b) => {
        const x = inputs(l, b);
        return reshape(patchify(x.length > 1 ? concat(x, 0) : l, c.patch), [1, n, -1]);
      }),
      0,
    ); // (B, N, ditInputChannels * pt*ph*pw)
    return linear(p.patchEmbed, patches); // (B, N, dim)
  });
  const sinus = timestepEmbedding(
    Float32Array.from(ts, (t) => 1000 * t),
    c.freqDim,
  ); // (B, freqDim), Wan's 0..1000 scale
  const temb = linear(p.timeEmbed.fc2, silu(linear(p.timeEmbed.fc1, sinus))); // (B, dim)
  const timeMod = reshape(linear(p.timeProj, silu(temb)), [B, 6, c.dim]); // (B, 6, dim)
  const ctx: BlockContext = {
    config: c,
    attention: model.attention,
    layout,
    self: cond.self,
    timeMod,
    text: cond.text,
    textPlan: cond.textPlan,
  };
  return { tokens, temb, ctx };
}

/** A sample's previous x0 estimate for self-conditioning, checked; zeros when there is none. */
function previousOf(latents: Tensor, prev: Tensor | undefined): Tensor {
  if (!prev) return fromArray(new Float32Array(latents.size), latents.shape);
  if (prev.shape.join() !== latents.shape.join())
    throw new Error(
      `VideoDiT: previous estimate [${prev.shape}] differs from the latents [${latents.shape}]`,
    );
  return prev;
}

/** The token grid and shot starts for latents of `shape` with this text, validated against the config. */
function layoutOf(c: DiTConfig, shape: Shape, text: MultiShotText): GridLayout {
  const grid = patchGrid(shape, c.patch);
  if (shape[0] !== c.latentChannels)
    throw new Error(`VideoDiT: latents have ${shape[0]} channels, the model expects ${c.latentChannels}`);
  const pt = c.patch[0];
  const starts = shotStarts(text, shape[1], c.textDim);
  const bad = starts.find((s) => s % pt);
  if (bad !== undefined)
    throw new Error(`VideoDiT: shot starting at latent frame ${bad} does not align with patch ${pt}`);
  return { ...grid, shotStarts: starts.map((s) => s / pt) };
}
