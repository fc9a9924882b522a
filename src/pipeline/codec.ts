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
  decoder(): LatentDecoder;
  /** Frees its weights (nothing for the parameter-free pool codec). */
  dispose(): void;
}

export function vaeCodec(vae: VideoVAE): LatentCodec {
  const f = vaeFactors(vae.config);
  return {
    kind: 'vae',
    channels: vae.config.latentChannels,
    space: f.space,
    time: f.time,
    encode(video) {
      const [c, F, H, W] = video.shape;
      if (video.rank !== 4 || c !== 3)
        throw new Error(`vae codec: expected video [3, F, H, W], got [${video.shape}]`);
      return noGrad(() =>
        tidy(() => {
          const post = encode(vae, reshape(video, [1, 3, F, H, W]));
          const z = normalizeLatent(vae, post.mean); // (1, C, n, h, w)
          return reshape(z, z.shape.slice(1));
        }),
      );
    },
    decoder() {
      let state: StreamState | undefined = newStreamState();
      return {
        push(z) {
          if (!state) throw new Error('vae codec: decoder used after close');
          const s = state;
          const r = noGrad(() =>
            tidy(() => {
              const zz = denormalizeLatent(vae, reshape(z, [1, ...z.shape]));
              const out = decode(vae, zz, s);
              const v = out.video; // (1, 3, f, H, W)
              return { video: reshape(v, v.shape.slice(1)), state: out.state! };
            }),
          );
          disposeStreamState(s);
          state = r.state;
          return r.video;
        },
        close() {
          if (state) disposeStreamState(state);
          state = undefined;
        },
      };
    },
    dispose() {
      disposeParams(vae.params);
      vae.latentStats.mean.dispose();
      vae.latentStats.std.dispose();
    },
  };
}
