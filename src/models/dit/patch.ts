/**
 * 3D patchify / unpatchify. Wan2.1 embeds patches with a Conv3d whose kernel equals its stride;
 * that is a linear map on flattened patches, so the patch embedding here is `linear` on the rows
 * this returns, with the weight laid out as Conv3d's [dim, C, pt, ph, pw] flattened.
 */
import { permute, reshape } from '../../tensor/ops.js';
import type { Tensor } from '../../tensor/tensor.js';

export type Patch = readonly [number, number, number];

/** The token grid of a latent [C, F, H, W] under `patch`, checking divisibility. */
export function patchGrid(
  shape: readonly number[],
  patch: Patch,
): { frames: number; height: number; width: number } {
  if (shape.length !== 4)
    throw new Error(`VideoDiT: latents must be [C, F, H, W], got [${shape.join(', ')}]`);
  const [, F, H, W] = shape;
  const [pt, ph, pw] = patch;
  if (F % pt || H % ph || W % pw)
    throw new Error(
      `VideoDiT: latent size F=${F}, H=${H}, W=${W} is not divisible by the patch ${pt}x${ph}x${pw}`,
    );
  return { frames: F / pt, height: H / ph, width: W / pw };
}

/** x [C, F, H, W] -> [N, C*pt*ph*pw], token n = (f * H' + y) * W' + x (frame-major, as the plans expect). */
export function patchify(x: Tensor, patch: Patch): Tensor {
  const [C] = x.shape;
  const [pt, ph, pw] = patch;
  const g = patchGrid(x.shape, patch);
  const r = reshape(x, [C, g.frames, pt, g.height, ph, g.width, pw]); // (C, F', pt, H', ph, W', pw)
  const p = permute(r, [1, 3, 5, 0, 2, 4, 6]); // (F', H', W', C, pt, ph, pw)
  return reshape(p, [g.frames * g.height * g.width, C * pt * ph * pw]); // (N, C*pt*ph*pw)
}

/**
 * y [N, pt*ph*pw*C] (Wan's head layout: patch position major, channel minor) -> [C, F, H, W].
 */
export function unpatchify(
  y: Tensor,
  channels: number,
  grid: { frames: number; height: number; width: number },
  patch: Patch,
): Tensor {
  const [pt, ph, pw] = patch;
  const { frames, height, width } = grid;
  const r = reshape(y, [frames, height, width, pt, ph, pw, channels]); // (F', H', W', pt, ph, pw, C)
  const p = permute(r, [6, 0, 3, 1, 4, 2, 5]); // (C, F', pt, H', ph, W', pw)
  return reshape(p, [channels, frames * pt, height * ph, width * pw]); // (C, F, H, W)
}
