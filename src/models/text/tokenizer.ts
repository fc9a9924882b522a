/**
 * Caption tokenizer: whole words of the world grammar, plus a byte-level fallback so any text
 * encodes and decodes back exactly. Words that needed the fallback are reported, never dropped.
 *
 * Ids: 0 TOKEN_PAD, 1 TOKEN_BOS, 2 TOKEN_EOS, 3..258 the bytes 0..255, then two ids per vocabulary word: the word
 * as is, and the word after a space (" star"), the way GPT-2-style tokenizers keep spaces.
 * Text is cut into pieces: an optional space plus a word (Unicode letters, inner hyphens), a
 * number, or one other character; any other whitespace is a piece of its own. The pieces concatenate back
 * to the text, which is why decodeText(encodeText(x)) === x for every x that fits.
 */
import { VOCAB_V1 } from './vocab.js';

export const TOKEN_PAD = 0;
export const TOKEN_BOS = 1;
export const TOKEN_EOS = 2;
const BYTE0 = 3;
const WORD0 = BYTE0 + 256;

export interface Tokenizer {
  /** Vocabulary words, in id order. */
  words: readonly string[];
  /** Piece ("star" or " star") -> id. */
  index: ReadonlyMap<string, number>;
  vocabSize: number;
  /** Padded sequence length, TOKEN_BOS and TOKEN_EOS included. */
  maxLength: number;
}

export interface EncodedText {
  /** maxLength ids: TOKEN_BOS, tokens, TOKEN_EOS, then TOKEN_PAD. */
  ids: Int32Array;
  /** Tokens that attend (TOKEN_BOS..TOKEN_EOS inclusive); the rest is padding. */
  length: number;
  /** Words outside the vocabulary (encoded as bytes), in order of first appearance. */
  unknown: string[];
  /** True when the text did not fit and was cut (decode then returns a prefix). */
  truncated: boolean;
}

export function makeTokenizer(words: readonly string[] = VOCAB_V1, maxLength = 64): Tokenizer {
  if (!Number.isInteger(maxLength) || maxLength < 2)
    throw new Error(`tokenizer maxLength must be an integer >= 2, got ${maxLength}`);
  const index = new Map<string, number>();
  words.forEach((w, i) => {
    if (!w || /\s/.test(w))
      throw new Error(`tokenizer: vocabulary word ${JSON.stringify(w)} is empty or has whitespace`);
    if (index.has(w)) throw new Error(`tokenizer: vocabulary word '${w}' appears twice`);
    index.set(w, WORD0 + 2 * i);
    index.set(` ${w}`, WORD0 + 2 * i + 1);
  });
  return { words, index, vocabSize: WORD0 + 2 * words.length, maxLength };
}

const PIECE = / ?\p{L}+(?:-\p{L}+)*| ?\p{N}+| ?[^\s\p{L}\p{N}]|\s/gu;
const utf8 = new TextEncoder();

/** Token ids of text, without TOKEN_BOS/TOKEN_EOS/padding, and the unknown words. */
export function tokenizeText(tok: Tokenizer, text: string): { tokens: number[]; unknown: string[] } {
  const tokens: number[] = [];
  const unknown: string[] = [];
  let covered = 0;
  for (const [piece] of text.matchAll(PIECE)) {
    covered += piece.length;
    const id = tok.index.get(piece);
    if (id !== undefined) {
      tokens.push(id);
      continue;
    }
    for (const b of utf8.encode(piece)) tokens.push(BYTE0 + b);
    const word = piece.trim();
    if (word && !unknown.includes(word)) unknown.push(word);
  }
  // PIECE matches every character; this guards the round-trip promise against a regex edit.
  if (covered !== text.length) throw new Error('tokenizer: internal error, text not fully covered by pieces');
  return { tokens, unknown };
}

export function encodeText(tok: Tokenizer, text: string): EncodedText {
  const { tokens, unknown } = tokenizeText(tok, text);
  const room = tok.maxLength - 2;
  const body = tokens.length > room ? tokens.slice(0, room) : tokens;
  const ids = new Int32Array(tok.maxLength); // TOKEN_PAD = 0
  ids[0] = TOKEN_BOS;
  ids.set(body, 1);
  ids[body.length + 1] = TOKEN_EOS;
  return { ids, length: body.length + 2, unknown, truncated: body.length < tokens.length };
}

/** B captions -> ids [B, maxLength] (row-major) and attention lengths [B]. */
export function encodeTextBatch(tok: Tokenizer, texts: readonly string[]) {
  const ids = new Int32Array(texts.length * tok.maxLength);
  const lengths = new Int32Array(texts.length);
  const unknown: string[][] = [];
  texts.forEach((t, b) => {
    const e = encodeText(tok, t);
    ids.set(e.ids, b * tok.maxLength);
    lengths[b] = e.length;
    unknown.push(e.unknown);
  });
  return { ids, lengths, unknown };
}

/** Text of ids (TOKEN_PAD, TOKEN_BOS and TOKEN_EOS skipped; stops at `length` when given). */
export function decodeText(tok: Tokenizer, ids: ArrayLike<number>, length = ids.length): string {
  const dec = new TextDecoder('utf-8');
  let out = '';
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += dec.decode(new Uint8Array(bytes));
    bytes.length = 0;
  };
  for (let i = 0; i < Math.min(length, ids.length); i++) {
    const id = ids[i];
    if (id === TOKEN_PAD || id === TOKEN_BOS || id === TOKEN_EOS) continue;
    if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize)
      throw new Error(`token id ${id} is outside the vocabulary (size ${tok.vocabSize})`);
    if (id < WORD0) {
      bytes.push(id - BYTE0);
      continue;
    }
    flush();
    const k = id - WORD0;
    out += (k % 2 ? ' ' : '') + tok.words[k >> 1];
  }
  flush();
  return out;
}

/** A readable name for one id (for debugging and inspection). */
export function tokenName(tok: Tokenizer, id: number): string {
  if (id === TOKEN_PAD) return '<pad>';
  if (id === TOKEN_BOS) return '<bos>';
  if (id === TOKEN_EOS) return '<eos>';
  if (id < WORD0) return `<0x${(id - BYTE0).toString(16).padStart(2, '0')}>`;
  const k = id - WORD0;
  return (k % 2 ? '▁' : '') + tok.words[k >> 1];
}
