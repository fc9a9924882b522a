/**
 * Multi-shot text conditioning (ours; MOGA.md section 3): a sample carries one caption embedding
 * sequence per shot and an optional global caption. The text rows are laid out
 *
 *   [ global (Lg) | shot 0 caption (L0) | shot 1 caption (L1) | ... ]
 *
 * and cross-attention runs as an attention plan over them: one segment per shot whose queries are
 * that shot's video tokens and whose keys/values are that shot's caption rows plus the global
 * rows. A video token therefore never sees another shot's caption, and the same groupedAttention
 * kernel that runs MoGA runs the cross-attention.
 */
import { type AttentionPlan, planFromSegments } from '../../attention/plan.js';
import { concat } from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import { full, type Tensor } from '../../tensor/tensor.js';

export interface ShotText {
  /** Latent frames of this shot (consecutive shots tile the latent's F frames). */
  readonly frames: number;
  readonly caption: Tensor; // [L_s, textDim]
}

export interface MultiShotText {
  readonly shots: readonly ShotText[];
  readonly global?: Tensor; // [L_g, textDim]
}

/** The first latent frame of each shot, validating that the shots tile `latentFrames`. */
export function shotStarts(text: MultiShotText, latentFrames: number, textDim: number): number[] {
  if (text.shots.length === 0) throw new Error('multi-shot text: need at least one shot');
  const starts: number[] = [];
  let at = 0;
  text.shots.forEach((s, i) => {
    if (!Number.isInteger(s.frames) || s.frames < 1)
      throw new Error(`multi-shot text: shot ${i} has ${s.frames} frames (need a positive integer)`);
    checkCaption(s.caption, textDim, `shot ${i} caption`);
    starts.push(at);
    at += s.frames;
  });
  if (text.global) checkCaption(text.global, textDim, 'global caption');
  if (at !== latentFrames)
    throw new Error(`multi-shot text: shots cover ${at} latent frames but the latent has ${latentFrames}`);
  return starts;
}

function checkCaption(c: Tensor, textDim: number, what: string) {
  if (c.rank !== 2 || c.shape[1] !== textDim || c.shape[0] < 1)
    throw new Error(`multi-shot text: ${what} must be [L >= 1, ${textDim}], got [${c.shape.join(', ')}]`);
}

/** All caption rows in plan order: [global, shot 0, shot 1, ...] -> [Lt, textDim]. */
export function textRows(text: MultiShotText): Tensor {
  return concat([...(text.global ? [text.global] : []), ...text.shots.map((s) => s.caption)], 0);
}

/**
 * The cross-attention plan. `tokenStarts[s]` is the first video token of shot s (tokens of a shot
 * are contiguous because tokens are frame-major), `tokens` the total; caption lengths as given.
 */
export function shotTextPlan(
  tokenStarts: readonly number[],
  tokens: number,
  captionLens: readonly number[],
  globalLen: number,
): AttentionPlan {
  if (tokenStarts.length !== captionLens.length)
    throw new Error(`shot text plan: ${tokenStarts.length} shots but ${captionLens.length} captions`);
  const globalRows = Array.from({ length: globalLen }, (_, i) => i);
  let row = globalLen;
  return planFromSegments(
    tokenStarts.map((start, s) => {
      const end = s + 1 < tokenStarts.length ? tokenStarts[s + 1] : tokens;
      const own = Array.from({ length: captionLens[s] }, (_, i) => row + i);
      row += captionLens[s];
      return { q: Array.from({ length: end - start }, (_, i) => start + i), kv: [...globalRows, ...own] };
    }),
  );
}

/**
 * The unconditional input for classifier-free guidance: the same shots, each with an empty caption
 * (one zero row, what a zero-padded empty prompt reduces to), and no global caption. Training drops
 * captions to this with some probability so the model learns v_uncond.
 */
export function emptyText(text: MultiShotText, textDim: number): MultiShotText {
  return { shots: text.shots.map((s) => ({ frames: s.frames, caption: full([1, textDim], 0) })) };
}

/** Caption dropout for guidance training: the empty text with probability `p`, else `text`. */
export function dropText(text: MultiShotText, textDim: number, rng: Rng, p: number): MultiShotText {
  if (!(p >= 0 && p <= 1)) throw new Error(`caption dropout probability must be in [0, 1], got ${p}`);
  return rng.uniformArray(1)[0] < p ? emptyText(text, textDim) : text;
}
