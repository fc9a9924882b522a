/**
 * A story's captions as the DiT's multi-shot conditioning: one caption embedding per shot (over
 * that shot's latent frames) plus the optional global caption, all from one text-encoder pass.
 */
import type { MultiShotText } from '../models/dit/text.js';
import type { CaptionEncoder } from '../models/text/encoder.js';

/** captions[i] covers shotFrames[i] latent frames; `global` is seen by every shot. */
export function encodeShots(
  encoder: CaptionEncoder,
  captions: readonly string[],
  shotFrames: readonly number[],
  global?: string,
): MultiShotText {
  if (captions.length !== shotFrames.length)
    throw new Error(`encodeShots: ${captions.length} captions for ${shotFrames.length} shots`);
  const all = global === undefined ? [...captions] : [global, ...captions];
  const enc = encoder.encode(all);
  const off = global === undefined ? 0 : 1;
  return {
    shots: shotFrames.map((frames, i) => ({ frames, caption: enc[off + i].embeddings })),
    ...(global === undefined ? {} : { global: enc[0].embeddings }),
  };
}
