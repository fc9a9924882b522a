/**
 * DiT configurations as frozen plain data, with named presets.
 *
 * Override with spread, never by mutation: `{ ...DIT_PRESETS.tiny, layers: 4 }`.
 * The Wan2.1 presets carry the published dimensions so that parameter counts and FLOPs can be
 * reported for them (src/models/cost.ts) without allocating weights.
 */
import type { AttentionBranch } from '../attention/visual-attention.js';

export interface AttentionConfig {
  /** Branches whose outputs are averaged. `['full']` is dense attention. */
  readonly branches: readonly AttentionBranch[];
  /** M: number of router groups of the routed (MoGA) branch. */
  readonly groups: number;
  /** Spatial windows per latent frame, [wy, wx] (2x2 for Wan-sized models). */
  readonly window: readonly [number, number];
  /** Latent frames per temporal group of the window branch; 0 = the whole shot (ours). */
  readonly temporalGroup: number;
  /** Latent frames of each adjacent shot added to a window group's keys/values (shot-cut fix). */
  readonly adjacentFrames: number;
  /** Weight of the router's group-balancing loss. */
  readonly alpha: number;
}

export interface DiTConfig {
  /** Hidden width of the transformer. */
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  /** Hidden width of the feed-forward layer. */
  readonly ffnDim: number;
  /** Channels of the VAE latent (input and output of the DiT). */
  readonly latentChannels: number;
  /** Patch size over latent (t, h, w). */
  readonly patch: readonly [number, number, number];
  /** Width of the caption token embeddings fed to cross-attention. */
  readonly textDim: number;
  /** Caption tokens per shot (padded / truncated to this). */
  readonly textLen: number;
  /** Width of the sinusoidal timestep embedding. */
  readonly freqDim: number;
  /** Epsilon of the norms. */
  readonly eps: number;
  readonly attention: AttentionConfig;
  /**
   * Known-frame conditioning (image to video, regenerating a shot, extending a video): the patch
   * embedding also reads a latent of given frames [C, F, H, W] and their mask [1, F, H, W],
   * concatenated on channels after x_t (models/dit/dit.ts `GivenFrames`). Absent or false: the
   * model as before, the same parameters and the same output.
   */
  readonly conditioning?: boolean;
  /**
   * Self-conditioning (Chen et al. 2022, "Analog Bits"): the patch embedding also reads the model's
   * own previous estimate of the clean latent [C, F, H, W], concatenated on channels last, so each
   * sampler step can refine what the step before drew instead of redrawing it from x_t alone
   * (models/dit/objective.ts `selfCondition`). Absent or false: the model as before.
   */
  readonly selfCondition?: boolean;
  /**
   * A head at the latent cell's resolution after the token head (models/dit/cell-head.ts): two
   * 1x3x3 convolutions over [token head's x0; `features` more channels from the token head; x_t; t]
   * add a correction to each cell, so detail finer than a patch (an object's outline inside a 2x2
   * patch) can follow the noisy input. Absent: no cell head, the same parameters and output.
   */
  readonly cellHead?: { readonly hidden: number; readonly features: number };
  /**
   * Rotary position of a token on y and x per step of the token grid (absent: 1). A model grown to
   * 1x1x1 patches from 1x2x2 ones uses 0.5, so each cell sits where its source token sat and the
   * trained attention keeps its geometry (models/dit/grow.ts).
   */
  readonly ropeScale?: number;
}

/** Dense attention: what Wan2.1 ships with. */
export const FULL_ATTENTION: AttentionConfig = Object.freeze({
  branches: Object.freeze(['full'] as AttentionBranch[]),
  groups: 1,
  window: Object.freeze([1, 1] as [number, number]),
  temporalGroup: 0,
  adjacentFrames: 0,
  alpha: 0,
});

/** MoGA + STGA as in the paper (M = 5, 2x2 windows, two adjacent-shot frames, alpha 0.1). */
export const MOGA_ATTENTION: AttentionConfig = Object.freeze({
  branches: Object.freeze(['routed', 'window', 'frame'] as AttentionBranch[]),
  groups: 5,
  window: Object.freeze([2, 2] as [number, number]),
  temporalGroup: 0,
  adjacentFrames: 2,
  alpha: 0.1,
});

function preset(c: Omit<DiTConfig, 'patch'> & { patch: [number, number, number] }): DiTConfig {
  return Object.freeze({ ...c, patch: Object.freeze(c.patch) as readonly [number, number, number] });
}

export const DIT_PRESETS = Object.freeze({
  /** Trains on a laptop CPU in seconds; used by tests and the bundled demo model. */
  tiny: preset({
    dim: 64,
    layers: 2,
    heads: 4,
    ffnDim: 256,
    latentChannels: 16,
    patch: [1, 2, 2],
    textDim: 64,
    textLen: 16,
    freqDim: 256,
    eps: 1e-6,
    attention: Object.freeze({ ...MOGA_ATTENTION, groups: 4 }),
  }),
  /** Trains on a workstation CPU or a small GPU. */
  small: preset({
    dim: 256,
    layers: 6,
    heads: 4,
    ffnDim: 1024,
    latentChannels: 16,
    patch: [1, 2, 2],
    textDim: 256,
    textLen: 32,
    freqDim: 256,
    eps: 1e-6,
    attention: MOGA_ATTENTION,
  }),
  /** Wan2.1-T2V-1.3B dimensions (umT5-XXL text, 512 tokens). */
  'wan2.1-1.3b': preset({
    dim: 1536,
    layers: 30,
    heads: 12,
    ffnDim: 8960,
    latentChannels: 16,
    patch: [1, 2, 2],
    textDim: 4096,
    textLen: 512,
    freqDim: 256,
    eps: 1e-6,
    attention: MOGA_ATTENTION,
  }),
  /** Wan2.1-T2V-14B dimensions. */
  'wan2.1-14b': preset({
    dim: 5120,
    layers: 40,
    heads: 40,
    ffnDim: 13824,
    latentChannels: 16,
    patch: [1, 2, 2],
    textDim: 4096,
    textLen: 512,
    freqDim: 256,
    eps: 1e-6,
    attention: MOGA_ATTENTION,
  }),
});

export type DiTPresetName = keyof typeof DIT_PRESETS;

export function ditPreset(name: string): DiTConfig {
  if (!Object.hasOwn(DIT_PRESETS, name)) {
    throw new Error(`unknown DiT preset '${name}' (known: ${Object.keys(DIT_PRESETS).join(', ')})`);
  }
  return DIT_PRESETS[name as DiTPresetName];
}

/**
 * Input channels of the patch embedding, per latent cell, in order: x_t (C), with conditioning the
 * given latent and its mask (C + 1), with self-conditioning the previous x0 estimate (C).
 */
export function ditInputChannels(c: DiTConfig): number {
  const C = c.latentChannels;
  return C + (c.conditioning ? C + 1 : 0) + (c.selfCondition ? C : 0);
}
