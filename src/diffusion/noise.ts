/**
 * Diffusion noise for a video latent, the same in training and sampling: N(0, 1) in every
 * element, optionally correlated along latent frames inside each shot as an AR(1) process,
 * e_f = rho e_{f-1} + sqrt(1 - rho^2) n_f, restarting at every shot start. Each element stays
 * N(0, 1); neighbouring latent frames of a shot correlate by rho (k frames apart by rho^k); shots
 * start independent. Why: the sampler's first steps read the noise as content, and independent
 * noise per latent frame gives each frame its own content, which the decoder shows as flicker and
 * false cuts (PYoCo's "progressive" noise prior, Ge et al. 2023, made per shot).
 */
import type { Shape } from '../core/shape.js';
import type { Rng } from '../tensor/random.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';

/** Whether `rho` is a usable correlation: a number in [0, 1). */
export function checkNoiseCorrelation(rho: number): boolean {
  return rho >= 0 && rho < 1;
}

/**
 * Noise of `shape` [C, F, H, W] from `rng`: always exactly C*F*H*W normals drawn (rho changes the
 * values, never the draws, so resumed runs keep their random stream); rho = 0 is `rng.normal`,
 * bit for bit. `shotStarts`: the first latent frame of each shot (default: one shot).
 */
export function frameNoise(rng: Rng, shape: Shape, rho = 0, shotStarts: readonly number[] = [0]): Tensor {
  if (!checkNoiseCorrelation(rho))
    throw new Error(`noise: the correlation between latent frames must be in [0, 1), got ${rho}`);
  if (rho === 0) return rng.normal(shape);
  if (shape.length !== 4)
    throw new Error(`noise: correlated noise needs a latent [C, F, H, W], got [${shape}]`);
  const [C, F, H, W] = shape;
  const a = rng.normalArray(C * F * H * W);
  const restart = new Set(shotStarts);
  const plane = H * W;
  const q = Math.sqrt(1 - rho * rho);
  for (let c = 0; c < C; c++)
    for (let f = 1; f < F; f++) {
      if (restart.has(f)) continue;
      const o = (c * F + f) * plane;
      for (let i = o; i < o + plane; i++) a[i] = rho * a[i - plane] + q * a[i];
    }
  return fromArray(a, shape);
}
