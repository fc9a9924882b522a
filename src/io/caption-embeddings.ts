/**
 * Precomputed caption embeddings in a safetensors file, so a user can condition on a large
 * external text encoder (for example umT5-XXL, width 4096) instead of the bundled one:
 *   embeddings  F32 | F16 | BF16  [B, L, D]   token embeddings, padded to L
 *   lengths     I32               [B]         real tokens of each caption (1..L)
 *   __metadata__.captions = JSON array of the B caption strings (the lookup keys)
 */
import {
  isFloatDType,
  readSafetensors,
  type SafeDType,
  type SafeFile,
  writeSafetensors,
} from './safetensors.js';

export interface CaptionEmbeddingsFile {
  readonly captions: readonly string[];
  /** Per caption, its real rows [length * D] (row-major). */
  readonly rows: readonly Float32Array[];
  readonly lengths: Int32Array;
  /** L: padded sequence length in the file. */
  readonly seqLen: number;
  /** D: embedding width. */
  readonly width: number;
}

/** Validates the layout described above; `source` names the file in errors. */
export function parseCaptionEmbeddings(file: SafeFile, source: string): CaptionEmbeddingsFile {
  const fail = (m: string) => new Error(`caption embeddings ${source}: ${m}`);
  const emb = file.tensors.get('embeddings');
  const len = file.tensors.get('lengths');
  if (!emb) throw fail(`no 'embeddings' tensor (has: ${[...file.tensors.keys()].join(', ') || 'none'})`);
  if (!len) throw fail("no 'lengths' tensor");
  if (!isFloatDType(emb.dtype))
    throw fail(`'embeddings' must be a float tensor (F32, F16 or BF16), got ${emb.dtype}`);
  if (emb.shape.length !== 3)
    throw fail(`'embeddings' must be [captions, seqLen, width], got [${emb.shape.join(', ')}]`);
  const [B, L, D] = emb.shape;
  if (len.dtype !== 'I32' || len.shape.length !== 1 || len.shape[0] !== B)
    throw fail(`'lengths' must be I32 [${B}], got ${len.dtype} [${len.shape.join(', ')}]`);
  let captions: unknown;
  try {
    captions = JSON.parse(file.metadata.captions ?? 'null');
  } catch {
    throw fail('__metadata__.captions is not valid JSON');
  }
  if (!Array.isArray(captions) || captions.length !== B || !captions.every((c) => typeof c === 'string'))
    throw fail(`__metadata__.captions must be a JSON array of ${B} strings`);
  const dup = captions.find((c, i) => captions.indexOf(c) !== i);
  if (dup !== undefined) throw fail(`caption ${JSON.stringify(dup)} appears twice`);
  const lengths = len.data as Int32Array;
  const rows = captions.map((c, b) => {
    const n = lengths[b];
    if (!(n >= 1 && n <= L))
      throw fail(`caption ${b} (${JSON.stringify(c)}) has length ${n}, expected 1..${L}`);
    return (emb.data as Float32Array).slice(b * L * D, (b * L + n) * D);
  });
  return { captions, rows, lengths, seqLen: L, width: D };
}

export function readCaptionEmbeddings(path: string): CaptionEmbeddingsFile {
  return parseCaptionEmbeddings(readSafetensors(path), path);
}

/** Writes per-caption embeddings ([len_i * D] rows each) in the layout above, padded with zeros. */
export function writeCaptionEmbeddings(
  path: string,
  captions: readonly string[],
  rows: readonly Float32Array[],
  width: number,
  opts: { seqLen?: number; dtype?: SafeDType } = {},
): void {
  if (rows.length !== captions.length)
    throw new Error(`${captions.length} captions but ${rows.length} embeddings`);
  const lengths = Int32Array.from(rows, (r, i) => {
    if (r.length % width || r.length === 0)
      throw new Error(`caption ${i}: ${r.length} values is not a positive multiple of width ${width}`);
    return r.length / width;
  });
  const L = opts.seqLen ?? Math.max(1, ...lengths);
  const data = new Float32Array(captions.length * L * width);
  rows.forEach((r, b) => {
    if (lengths[b] > L) throw new Error(`caption ${b} has ${lengths[b]} tokens, more than seqLen ${L}`);
    data.set(r, b * L * width);
  });
  const tensors = {
    embeddings: { shape: [captions.length, L, width], data, dtype: opts.dtype ?? 'F32' },
    lengths: { shape: [captions.length], data: lengths },
  } as const;
  writeSafetensors(path, tensors, { captions: JSON.stringify(captions) });
}
