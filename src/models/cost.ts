/**
 * Analytic cost of a VideoDiT forward pass: tokens, parameters and FLOPs, without allocating weights.
 *
 * FLOP convention (the one that reproduces the MoGA paper's Table 5 for Wan2.1-1.3B):
 * - 2 FLOPs per multiply-accumulate, forward pass only, one sample, no classifier-free guidance.
 * - Attention FLOPs count the two matmuls QK^T and PV: `4 * dim * sum_g nq_g * nk_g` per layer
 *   (dim = heads * headDim), for self-attention over video tokens plus cross-attention from every
 *   video token to its caption tokens (text length 512 for Wan2.1).
 * - The rest counts every linear layer: q/k/v/o of self- and cross-attention (cross k/v over the
 *   text tokens), the FFN, the router, the text and time embeddings, modulation, patch embedding
 *   and the head (and the cell head's convolutions, when there is one). Norms, softmax, RoPE and
 *   element-wise ops are not counted (< 1%).
 * With it, dense attention costs 0.26 / 0.88 / 6.94 PFLOPs at 31,200 / 62,400 / 187,200 tokens
 * against the paper's 0.28 / 0.88 / 6.94 (the 5 s figure is 7% lower; it matches 32,760 tokens,
 * i.e. 21 latent frames, so the paper probably used 81 frames there).
 *
 * Sparse branches are counted from their plans (the window branch exactly as `plans.windows`
 * builds it), with the router assumed balanced (N/M tokens per group). MoGA with M = 5, per-frame
 * attention, and 2x2 spatial windows x 4 temporal groups (10 latent frames at 10 s, 30 at 30 s)
 * costs 28.75% of dense attention at 10 s -- the paper's "71.25% sparsity" -- and 2.24 PFLOPs at
 * 30 s against the paper's 2.26. The paper does not state its temporal group length; 4 groups per
 * clip is the reading that reproduces both figures.
 */
import type { AttentionBranch } from '../attention/visual-attention.js';
import { type AttentionConfig, type DiTConfig, ditInputChannels } from './presets.js';

/** Pixel-level video size. */
export interface VideoSize {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
}

export interface CostOptions {
  /** VAE compression (t, h, w); Wan2.1's is 4x8x8 with a causal first frame. */
  readonly vae?: readonly [number, number, number];
  /** Latent frames per shot (sums to the latent frame count); default one shot. */
  readonly shots?: readonly number[];
  /** Caption tokens each video token attends to (default `cfg.textLen`). */
  readonly textTokens?: number;
  readonly attention?: AttentionConfig;
  /** Routed groups split by shot (VisualAttention's `routedPerShot`); default: over the whole clip. */
  readonly routedPerShot?: boolean;
}

export interface TokenGrid {
  /** Latent frames (= token frames with temporal patch 1). */
  readonly f: number;
  readonly h: number;
  readonly w: number;
  readonly tokens: number;
}

export interface CostReport {
  readonly grid: TokenGrid;
  readonly tokens: number;
  readonly params: number;
  /** Pairs (query, key) scored by self-attention per layer and head, summed over groups. */
  readonly selfPairs: number;
  readonly flops: {
    /** QK^T and PV of self- and cross-attention, all layers. */
    readonly attention: number;
    /** Everything else (linear layers). */
    readonly rest: number;
    readonly total: number;
  };
  /** Self-attention pairs relative to dense attention over the same tokens. */
  readonly density: number;
}

/** Latent and token grid for a pixel video: latent frames = 1 + floor((frames - 1) / vt). */
export function tokenGrid(
  cfg: DiTConfig,
  video: VideoSize,
  vae: readonly [number, number, number] = [4, 8, 8],
): TokenGrid {
  const [vt, vh, vw] = vae;
  const [pt, ph, pw] = cfg.patch;
  for (const [k, v] of Object.entries(video))
    if (!Number.isInteger(v) || v < 1) throw new Error(`video ${k} must be a positive integer, got ${v}`);
  if (video.height % (vh * ph) || video.width % (vw * pw))
    throw new Error(
      `video ${video.height}x${video.width} is not divisible by VAE x patch (${vh * ph}x${vw * pw})`,
    );
  const latentF = 1 + Math.floor((video.frames - 1) / vt);
  const f = Math.ceil(latentF / pt);
  const h = video.height / vh / ph;
  const w = video.width / vw / pw;
  return { f, h, w, tokens: f * h * w };
}

/** Parameter count of the Wan2.1-style DiT for `cfg` (router included when it has a routed branch). */
export function ditParamCount(cfg: DiTConfig): number {
  const { dim: d, ffnDim, latentChannels: c, textDim, freqDim } = cfg;
  const lin = (i: number, o: number) => i * o + o;
  const cells = cfg.patch[0] * cfg.patch[1] * cfg.patch[2];
  const patchIn = ditInputChannels(cfg) * cells;
  const attn = 4 * lin(d, d) + 2 * d; // q, k, v, o + RMSNorm on q and k
  const router = cfg.attention.branches.includes('routed') ? d * cfg.attention.groups : 0; // no bias
  const block =
    attn + // self-attention
    attn + // cross-attention
    2 * d + // affine norm before cross-attention
    lin(d, ffnDim) +
    lin(ffnDim, d) +
    6 * d + // modulation table (shift/scale/gate x 2)
    router;
  const embed =
    lin(patchIn, d) + // patch embedding (a strided conv3d)
    lin(textDim, d) +
    lin(d, d) + // text embedding MLP
    lin(freqDim, d) +
    lin(d, d) + // time embedding MLP
    lin(d, 6 * d); // time projection to the modulation
  const head = lin(d, c * cells) + 2 * d; // the head draws x0 (or v) alone, whatever the inputs
  return embed + cfg.layers * block + head + cellHeadCost(cfg).params;
}

/** The cell head's parameters, and its multiply-adds per token (models/dit/cell-head.ts). */
function cellHeadCost(cfg: DiTConfig): { params: number; macPerToken: number } {
  if (!cfg.cellHead) return { params: 0, macPerToken: 0 };
  const { hidden, features: e } = cfg.cellHead;
  const c = cfg.latentChannels;
  const cells = cfg.patch[0] * cfg.patch[1] * cfg.patch[2];
  const conv = 9 * (2 * c + e + 1) * hidden + 9 * hidden * c; // the two 1x3x3 convolutions, per cell
  return {
    params: cfg.dim * cells * e + cells * e + conv + hidden + c,
    macPerToken: cfg.dim * cells * e + cells * conv,
  };
}

/** Sum over groups of nq * nk for one attention branch over the token grid. */
export function branchPairs(
  branch: AttentionBranch,
  grid: TokenGrid,
  att: AttentionConfig,
  shots: readonly number[],
  routedPerShot = false,
): number {
  const n = grid.tokens;
  const perFrame = grid.h * grid.w;
  switch (branch) {
    case 'full':
      return n * n;
    case 'routed':
      // balanced router: M groups of N/M tokens (the balancing loss pushes towards it)
      if (!routedPerShot) return (n * n) / att.groups;
      return shots.reduce((s, f) => s + (f * perFrame) ** 2, 0) / att.groups;
    case 'frame':
      return grid.f * perFrame * perFrame;
    case 'window': {
      const [wy, wx] = att.window;
      const rows = splitEven(grid.h, wy);
      const cols = splitEven(grid.w, wx);
      let pairs = 0;
      shots.forEach((len, s) => {
        // as plans.windows: the first temporal group of a shot also sees the previous shot's last
        // `adjacentFrames` frames, the last group the next shot's first ones (keys/values only)
        const prev = s > 0 ? Math.min(att.adjacentFrames, shots[s - 1]) : 0;
        const next = s < shots.length - 1 ? Math.min(att.adjacentFrames, shots[s + 1]) : 0;
        const chunks = splitChunks(len, att.temporalGroup > 0 ? att.temporalGroup : len);
        chunks.forEach((frames, i) => {
          const kvFrames = frames + (i === 0 ? prev : 0) + (i === chunks.length - 1 ? next : 0);
          for (const r of rows) for (const c of cols) pairs += frames * kvFrames * (r * c) ** 2;
        });
      });
      return pairs;
    }
  }
}

/** Cost of one forward pass of `cfg` on a video of `video` pixels. */
export function ditCost(cfg: DiTConfig, video: VideoSize, opts: CostOptions = {}): CostReport {
  const grid = tokenGrid(cfg, video, opts.vae);
  const att = opts.attention ?? cfg.attention;
  const shots = opts.shots ?? [grid.f];
  if (shots.reduce((a, b) => a + b, 0) !== grid.f || shots.some((s) => !Number.isInteger(s) || s < 1))
    throw new Error(`shots [${shots.join(', ')}] must be positive latent-frame counts summing to ${grid.f}`);
  const n = grid.tokens;
  const d = cfg.dim;
  const text = opts.textTokens ?? cfg.textLen;
  const cells = cfg.patch[0] * cfg.patch[1] * cfg.patch[2];
  const patchIn = ditInputChannels(cfg) * cells;

  // Each branch computes its own attention; the outputs are averaged (MOGA.md §2).
  const selfPairs = att.branches.reduce(
    (s, b) => s + branchPairs(b, grid, att, shots, opts.routedPerShot),
    0,
  );
  const crossPairs = n * text;
  const attention = cfg.layers * 4 * d * (selfPairs + crossPairs);

  const mac =
    cfg.layers *
      (n * 4 * d * d + // self-attention q, k, v, o
        n * 2 * d * d + // cross-attention q, o
        text * 2 * d * d + // cross-attention k, v over the text tokens
        n * 2 * d * cfg.ffnDim + // FFN
        (att.branches.includes('routed') ? n * d * att.groups : 0)) +
    n * patchIn * d + // patch embedding
    n * d * cfg.latentChannels * cells + // head
    n * cellHeadCost(cfg).macPerToken +
    text * (cfg.textDim * d + d * d) + // text embedding
    cfg.freqDim * d +
    d * d +
    6 * d * d; // time embedding and projection
  const rest = 2 * mac;
  return {
    grid,
    tokens: n,
    params: ditParamCount(cfg),
    selfPairs,
    flops: { attention, rest, total: attention + rest },
    density: selfPairs / (n * n),
  };
}

/** `n` split into `k` near-equal integer parts (windows over rows or columns). */
function splitEven(n: number, k: number): number[] {
  if (!Number.isInteger(k) || k < 1) throw new Error(`window count must be a positive integer, got ${k}`);
  const m = Math.min(k, n);
  return Array.from({ length: m }, (_, i) => Math.floor(((i + 1) * n) / m) - Math.floor((i * n) / m));
}

/** `n` in chunks of `size` (the last one shorter). */
function splitChunks(n: number, size: number): number[] {
  const out: number[] = [];
  for (let at = 0; at < n; at += size) out.push(Math.min(size, n - at));
  return out;
}
