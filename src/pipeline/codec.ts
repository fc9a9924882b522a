/**
 * The latent codec the pipeline generates in: video [3, F, H, W] in [-1, 1] <-> normalised latent
 * [C, 1 + (F - 1) / time, H / space, W / space]. Two implementations share the interface:
 *   - `vaeCodec`: the trained causal VideoVAE (src/models/vae), decoded chunk by chunk through
 *     its StreamState so memory stays flat over a minute;
 *   - `poolCodec` (pool-codec.ts): a fixed, parameter-free stand-in that average-pools 4x8x8
 *     blocks, for developing and testing the pipeline without a trained VAE.
 * The bundled model's config.json names which one it was trained with.
 */

import { vaeFactors } from '../models/vae/config.js';
import { disposeStreamState, newStreamState, type StreamState } from '../models/vae/layers.js';
import { decode, denormalizeLatent, encode, normalizeLatent, type VideoVAE } from '../models/vae/vae.js';
import { disposeParams } from '../nn/params.js';
import { reshape } from '../tensor/ops.js';
import { noGrad, type Tensor, tidy } from '../tensor/tensor.js';

export interface LatentDecoder {
  /**
   * The next latent chunk [C, n, h, w] (the first chunk of a stream starts at latent frame 0)
   * -> its frames [3, f, H, W] (f = 1 + time (n - 1) for the first chunk, time * n after).
   */
  push(z: Tensor): Tensor;
  /** Frees the causal cache. */
  close(): void;
}

export interface LatentEncoder {
  /**
   * The next frames [3, f, H, W] (f = 1 + time k for the first chunk of a stream, time k after)
   * -> their latent [C, k (+ 1 on the first), H / space, W / space], normalised.
   */
  push(video: Tensor): Tensor;
  /** Frees the causal cache. */
  close(): void;
}

export interface LatentCodec {
  readonly kind: 'vae' | 'pool';
  /** Latent channels. */
  readonly channels: number;
  /** Pixels per latent cell along each side. */
  readonly space: number;
  /** Frames per latent frame after the first, which stands alone. */
  readonly time: number;
  /** video [3, F, H, W], F = 1 + time k -> normalised latent [C, 1 + k, H / space, W / space]. */
  encode(video: Tensor): Tensor;
  /** The same, chunk by chunk (memory stays flat over a long video). */
  encoder(): LatentEncoder;
  decoder(): LatentDecoder;
  /** Frees its weights (nothing for the parameter-free pool codec). */
  dispose(): void;
}

export function vaeCodec(vae: VideoVAE): LatentCodec {
  const f = vaeFactors(vae.config);
  const encoder = () =>
    vaeStream('encoder', (video, s) => {
      const [c, F, H, W] = video.shape;
      if (video.rank !== 4 || c !== 3)
        throw new Error(`vae codec: expected video [3, F, H, W], got [${video.shape}]`);
      const post = encode(vae, reshape(video, [1, 3, F, H, W]), s);
      const z = normalizeLatent(vae, post.mean); // (1, C, n, h, w)
      return { out: reshape(z, z.shape.slice(1)), state: post.state! };
    });
  return {
    kind: 'vae',
    channels: vae.config.latentChannels,
    space: f.space,
    time: f.time,
    encode: (video) => encodeWhole(encoder, video),
    encoder,
    decoder: () =>
      vaeStream('decoder', (z, s) => {
        const out = decode(vae, denormalizeLatent(vae, reshape(z, [1, ...z.shape])), s);
        const v = out.video; // (1, 3, f, H, W)
        return { out: reshape(v, v.shape.slice(1)), state: out.state! };
      }),
    dispose() {
      disposeParams(vae.params);
      vae.latentStats.mean.dispose();
      vae.latentStats.std.dispose();
    },
  };
}

/** One causal stream through the VAE: each push steps from the cache the last one left, then frees it. */
function vaeStream(
  what: string,
  step: (x: Tensor, s: StreamState) => { out: Tensor; state: StreamState },
): LatentEncoder & LatentDecoder {
  let state: StreamState | undefined = newStreamState();
  return {
    push(x) {
      if (!state) throw new Error(`vae codec: ${what} used after close`);
      const s = state;
      const r = noGrad(() => tidy(() => step(x, s)));
      disposeStreamState(s);
      state = r.state;
      return r.out;
    },
    close() {
      if (state) disposeStreamState(state);
      state = undefined;
    },
  };
}

/** A whole video through a fresh encoder stream, as one chunk. */
export function encodeWhole(encoder: () => LatentEncoder, video: Tensor): Tensor {
  const e = encoder();
  try {
    return e.push(video);
  } finally {
    e.close();
  }
}
