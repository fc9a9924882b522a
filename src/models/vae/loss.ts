/** The VAE objective (reconstruction + KL) and PSNR. */

import { abs, add, exp, mean, mul, sliceAxis, sub } from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { decode, encode, samplePosterior, type VideoVAE } from './vae.js';

export interface VaeLossWeights {
  /** Mean absolute error. */
  readonly l1: number;
  /** Mean squared error (what PSNR measures). */
  readonly mse: number;
  /** L1 of the difference of horizontal and vertical pixel gradients (sharper edges). */
  readonly grad: number;
  /** KL(q(z|x) || N(0, I)), per latent element; small, as in Wan2.1 and SD (1e-6). */
  readonly kl: number;
  /**
   * L1 of the difference of consecutive-frame differences: change between frames that the clip
   * does not have (the decoder's jumps at latent-frame boundaries, read as flicker and false cuts).
   * Absent: 0.
   */
  readonly temporal?: number;
}

export interface VaeLoss {
  loss: Tensor;
  parts: { l1: Tensor; mse: Tensor; grad: Tensor | undefined; kl: Tensor; temporal: Tensor | undefined };
}

/** x [B, 3, F, H, W] in [-1, 1] -> the weighted loss of one whole-clip encode/sample/decode. */
export function vaeLoss(vae: VideoVAE, x: Tensor, w: VaeLossWeights, rng: Rng): VaeLoss {
  const post = encode(vae, x);
  const z = samplePosterior(post, rng);
  const { video: y } = decode(vae, z);
  const d = sub(y, x);
  const l1 = mean(abs(d));
  const mse = mean(mul(d, d));
  // 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2), averaged over latent elements.
  const kl = mul(mean(sub(add(mul(post.mean, post.mean), exp(post.logvar)), add(post.logvar, 1))), 0.5);
  let loss = add(add(mul(l1, w.l1), mul(mse, w.mse)), mul(kl, w.kl));
  let grad: Tensor | undefined;
  if (w.grad > 0) {
    const [, , , H, W] = d.shape;
    const gx = sub(sliceAxis(d, 4, 1, W), sliceAxis(d, 4, 0, W - 1));
    const gy = sub(sliceAxis(d, 3, 1, H), sliceAxis(d, 3, 0, H - 1));
    grad = add(mean(abs(gx)), mean(abs(gy)));
    loss = add(loss, mul(grad, w.grad));
  }
  let temporal: Tensor | undefined;
  if ((w.temporal ?? 0) > 0 && d.shape[2] > 1) {
    temporal = temporalError(d);
    loss = add(loss, mul(temporal, w.temporal!));
  }
  return { loss, parts: { l1, mse, grad, kl, temporal } };
}

/**
 * The error's change between consecutive frames, d [B, C, F, H, W] = decoded - clip:
 * mean |d_f - d_(f-1)|, which is 0 for any error constant in time (and for a perfect decoder).
 */
export function temporalError(d: Tensor): Tensor {
  const F = d.shape[2];
  return mean(abs(sub(sliceAxis(d, 2, 1, F), sliceAxis(d, 2, 0, F - 1))));
}

/** PSNR in dB of 8-bit frames: both arrays hold bytes 0..255 (peak 255). */
export function psnr8(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`psnr: sizes differ (${a.length} vs ${b.length})`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** Video values in [-1, 1] -> bytes as the world renders them (clamped, rounded). */
export function toBytes(v: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Math.round((Math.min(1, Math.max(-1, v[i])) + 1) * 127.5);
  return out;
}
