/**
 * What a generation will need, estimated before anything is allocated, so a story too big for the
 * machine is refused with the estimate and the limit instead of running into swap or failing
 * minutes later with `Invalid typed array length`.
 *
 * The terms follow generate.ts after the memory work of issue 15 (one DiT stage alive at a time):
 * sampling holds ~10 activations [B, tokens, dim] plus the FFN's hidden layer twice and a few
 * latents; decoding holds one chunk of frames through the codec. Constants were measured at
 * 160x96 with models/dit-tiny and the bundled VAE (sampling 120 MB and decoding 264 MB for 20 s)
 * and round up.
 */
import { freemem } from 'node:os';
import type { LatentLayout } from '../models/latent-layout.js';
import type { MogaModel } from './model.js';

/** Bytes per pixel of a decoded frame while a chunk goes through the codec. */
const DECODE_BYTES_PER_PIXEL = { vae: 1024, pool: 32 } as const;
/** Bytes generate() will allocate beyond the loaded model: the larger of its two phases. */
export interface MemoryEstimate {
  readonly bytes: number;
  readonly sampling: number;
  readonly decoding: number;
}

export function estimateGenerateMemory(
  layout: LatentLayout,
  model: Pick<MogaModel, 'config' | 'codec'>,
  /** `decoders`: streams decoded side by side (2 for a regeneration, `GivenFrames.whole`; default 1). */
  opts: { guidance: number; decodeChunk: number; decoders?: number },
): MemoryEstimate {
  const { dit } = model.config;
  const [pt, ph, pw] = dit.patch;
  const batch = opts.guidance === 1 ? 1 : 2;
  const tokens = Math.ceil(layout.latentFrames / pt) * (layout.height / ph) * (layout.width / pw);
  const latent = 4 * model.codec.channels * layout.latentFrames * layout.height * layout.width;
  const act = 4 * batch * tokens * dit.dim;
  const hidden = 4 * batch * tokens * dit.ffnDim;
  const sampling = 10 * act + 2 * hidden + 8 * latent;
  const frames = model.codec.time * opts.decodeChunk + 1;
  const pixels = layout.height * model.codec.space * layout.width * model.codec.space;
  const decoding =
    (opts.decoders ?? 1) * (latent + DECODE_BYTES_PER_PIXEL[model.codec.kind] * frames * pixels);
  return { bytes: Math.max(sampling, decoding), sampling, decoding };
}

/** The default limit: the memory the OS says is available now. */
export function defaultMemoryLimit(): number {
  return freemem();
}

export const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
