/**
 * Caption encoders: text -> per-caption token embeddings [L, textDim] for the DiT's cross-attention.
 *
 * `CaptionEncoder` is the pluggable interface. Two implementations:
 * - the learned encoder below (token + position embedding, N pre-norm transformer blocks of
 *   self-attention and MLP, final norm and projection to textDim), small enough to train jointly
 *   with the generator; key padding is expressed as an attention plan (one segment per caption
 *   over its real tokens), so padded rows neither attend nor are attended to;
 * - precomputed embeddings read from safetensors (for example from a large T5 encoder), looked
 *   up by caption text (file layout in src/io/caption-embeddings.ts), with width and sequence
 *   length checked against the model.
 */
import { groupedAttention } from '../../attention/grouped-attention.js';
import { type AttentionPlan, planFromSegments } from '../../attention/plan.js';
import { type CaptionEmbeddingsFile, readCaptionEmbeddings } from '../../io/caption-embeddings.js';
import { initLinear, type Linear, linear } from '../../nn/linear.js';
import { initMlp, type Mlp, mlp } from '../../nn/mlp.js';
import { applyLayerNorm, initLayerNorm, type Norm } from '../../nn/norm.js';
import { add, embedding, reshape, sliceAxis } from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import { fromArray, type Tensor } from '../../tensor/tensor.js';
import { encodeTextBatch, type Tokenizer } from './tokenizer.js';

/** One caption's token embeddings: only its real tokens (no padding rows). */
export interface CaptionEmbedding {
  readonly embeddings: Tensor; // [length, textDim]
  readonly length: number;
}

/** Anything that turns captions into token embeddings of width `textDim`. */
export interface CaptionEncoder {
  readonly textDim: number;
  /** Longest token sequence it produces. */
  readonly maxLength: number;
  encode(captions: readonly string[]): CaptionEmbedding[];
}

export interface TextEncoderConfig {
  readonly vocabSize: number;
  /** Token positions (the tokenizer's maxLength). */
  readonly maxLength: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly ffnDim: number;
  /** Output width (the DiT's textDim). */
  readonly textDim: number;
  readonly eps: number;
}

/** A small default for the tiny DiT (textDim 64); spread to override. */
export function textEncoderConfig(
  tok: Tokenizer,
  textDim: number,
  o: Partial<TextEncoderConfig> = {},
): TextEncoderConfig {
  const c = {
    vocabSize: tok.vocabSize,
    maxLength: tok.maxLength,
    dim: 64,
    layers: 2,
    heads: 4,
    ffnDim: 256,
    textDim,
    eps: 1e-6,
    ...o,
  };
  for (const k of ['vocabSize', 'maxLength', 'dim', 'layers', 'heads', 'ffnDim', 'textDim'] as const)
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`text encoder: ${k} must be a positive integer, got ${c[k]}`);
  if (c.dim % c.heads) throw new Error(`text encoder: dim ${c.dim} is not divisible by heads ${c.heads}`);
  if (c.vocabSize < tok.vocabSize)
    throw new Error(
      `text encoder: vocabSize ${c.vocabSize} is smaller than the tokenizer's ${tok.vocabSize}`,
    );
  return Object.freeze(c);
}

export interface TextBlock {
  norm1: Norm;
  qkv: Linear; // dim -> 3 dim
  out: Linear;
  norm2: Norm;
  mlp: Mlp;
}

export interface TextEncoderParams {
  tokenEmbed: Tensor; // [vocab, dim]
  posEmbed: Tensor; // [maxLength, dim]
  blocks: TextBlock[];
  normOut: Norm;
  proj: Linear; // dim -> textDim
}

/**
 * Token embeddings dominate the residual stream (std 1 against positions' 0.3 and branch outputs
 * of about 1), so every output row is mostly its own token and a caption's words stay apart: at
 * GPT-2's 0.02 a random encoder maps "yellow wall" and "navy wall" to rows 80% alike, and the
 * DiT cannot read the word back. The encoder is frozen while the DiT trains (train-dit.ts).
 */
export const TOKEN_EMBED_STD = 1;
export const POS_EMBED_STD = 0.3;

export function initTextEncoder(rng: Rng, c: TextEncoderConfig): TextEncoderParams {
  return {
    tokenEmbed: rng.fork(1).normal([c.vocabSize, c.dim], TOKEN_EMBED_STD),
    posEmbed: rng.fork(2).normal([c.maxLength, c.dim], POS_EMBED_STD),
    blocks: Array.from({ length: c.layers }, (_, i) => {
      const r = rng.fork(100 + i);
      return {
        norm1: initLayerNorm(c.dim, { eps: c.eps }),
        qkv: initLinear(r.fork(1), c.dim, 3 * c.dim),
        out: initLinear(r.fork(2), c.dim, c.dim),
        norm2: initLayerNorm(c.dim, { eps: c.eps }),
        mlp: initMlp(r.fork(3), c.dim, c.ffnDim),
      };
    }),
    normOut: initLayerNorm(c.dim, { eps: c.eps }),
    proj: initLinear(rng.fork(3), c.dim, c.textDim),
  };
}

/** Self-attention plan over B padded captions of L rows: caption b attends within its first lengths[b] rows. */
export function captionPlan(lengths: ArrayLike<number>, L: number): AttentionPlan {
  return planFromSegments(
    Array.from(lengths, (len, b) => {
      if (!Number.isInteger(len) || len < 1 || len > L)
        throw new Error(`text encoder: caption ${b} has length ${len}, expected 1..${L}`);
      const rows = Array.from({ length: len }, (_, i) => b * L + i);
      return { q: rows, kv: rows };
    }),
  );
}

/**
 * ids [B*L] int32 (row-major, padded to L = maxLength), lengths [B] -> [B*L, textDim].
 * Rows past a caption's length are zero after attention and carry no information; use
 * `splitCaptions` to keep the real ones.
 */
export function textEncoderForward(
  p: TextEncoderParams,
  c: TextEncoderConfig,
  ids: Int32Array,
  lengths: Int32Array,
): Tensor {
  const L = c.maxLength;
  const B = lengths.length;
  if (ids.length !== B * L)
    throw new Error(`text encoder: ${ids.length} ids for ${B} captions of ${L} tokens`);
  for (let i = 0; i < ids.length; i++)
    if (ids[i] < 0 || ids[i] >= c.vocabSize)
      throw new Error(
        `text encoder: token id ${ids[i]} (caption ${Math.floor(i / L)}) outside the vocabulary of ${c.vocabSize}`,
      );
  const plan = captionPlan(lengths, L);
  const hd = c.dim / c.heads;
  const pos = fromArray(
    Int32Array.from({ length: B * L }, (_, i) => i % L),
    [B * L],
  );
  let x = add(embedding(p.tokenEmbed, fromArray(ids, [B * L])), embedding(p.posEmbed, pos)); // (B*L, dim)
  for (const blk of p.blocks) {
    const qkv = reshape(linear(blk.qkv, applyLayerNorm(blk.norm1, x)), [B * L, 3, c.heads, hd]); // (B*L, 3, h, hd)
    const part = (i: number) => reshape(sliceAxis(qkv, 1, i, i + 1), [B * L, c.heads, hd]); // (B*L, h, hd)
    const o = groupedAttention(part(0), part(1), part(2), plan, { trusted: true }); // (B*L, h, hd)
    x = add(x, linear(blk.out, reshape(o, [B * L, c.dim])));
    x = add(x, mlp(blk.mlp, applyLayerNorm(blk.norm2, x)));
  }
  return linear(p.proj, applyLayerNorm(p.normOut, x)); // (B*L, textDim)
}

/** [B*L, D] padded rows -> one [lengths[b], D] tensor per caption. */
export function splitCaptions(rows: Tensor, lengths: ArrayLike<number>, L: number): CaptionEmbedding[] {
  return Array.from(lengths, (len, b) => ({
    embeddings: sliceAxis(rows, 0, b * L, b * L + len),
    length: len,
  }));
}

/**
 * The learned encoder as a CaptionEncoder. Unknown words are encoded through the tokenizer's
 * byte fallback; `onUnknown` hears about them (default: ignore, as the tokenizer reports them).
 */
export function learnedCaptionEncoder(
  p: TextEncoderParams,
  c: TextEncoderConfig,
  tok: Tokenizer,
  opts: { onUnknown?: (caption: string, words: string[]) => void } = {},
): CaptionEncoder {
  if (tok.maxLength !== c.maxLength)
    throw new Error(
      `text encoder: tokenizer pads to ${tok.maxLength} tokens but the encoder has ${c.maxLength} positions`,
    );
  return {
    textDim: c.textDim,
    maxLength: c.maxLength,
    encode(captions) {
      if (captions.length === 0) return [];
      const { ids, lengths, unknown } = encodeTextBatch(tok, captions);
      unknown.forEach((u, i) => u.length && opts.onUnknown?.(captions[i], u));
      return splitCaptions(textEncoderForward(p, c, ids, lengths), lengths, c.maxLength);
    },
  };
}

/**
 * Precomputed embeddings as a CaptionEncoder. The file's width must equal the model's textDim and
 * its sequence length must not exceed `maxLength` (the model's textLen); a caption absent from the
 * file is an error that names it.
 */
export function precomputedCaptionEncoder(
  source: string | CaptionEmbeddingsFile,
  expect: { textDim: number; maxLength: number },
  name = typeof source === 'string' ? source : 'precomputed embeddings',
): CaptionEncoder {
  const f = typeof source === 'string' ? readCaptionEmbeddings(source) : source;
  if (f.width !== expect.textDim)
    throw new Error(
      `caption embeddings ${name}: width ${f.width} does not match the model's textDim ${expect.textDim}`,
    );
  if (f.seqLen > expect.maxLength)
    throw new Error(
      `caption embeddings ${name}: sequence length ${f.seqLen} exceeds the model's text length ${expect.maxLength}`,
    );
  const index = new Map(f.captions.map((c, i) => [c, i]));
  return {
    textDim: f.width,
    maxLength: f.seqLen,
    encode(captions) {
      return captions.map((c) => {
        const i = index.get(c);
        if (i === undefined)
          throw new Error(
            `caption embeddings ${name}: no embedding for caption ${JSON.stringify(c)} (the file has ${f.captions.length} captions)`,
          );
        return { embeddings: fromArray(f.rows[i], [f.lengths[i], f.width]), length: f.lengths[i] };
      });
    },
  };
}
