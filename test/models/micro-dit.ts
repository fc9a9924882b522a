/** The micro DiT the model tests share, and a way to move a fresh one off its initialisation. */
import type { VideoDiT } from '../../src/models/dit/dit.js';
import { DIT_PRESETS, type DiTConfig } from '../../src/models/presets.js';
import { namedParams } from '../../src/nn/params.js';
import type { Rng } from '../../src/tensor/random.js';

export const MICRO_DIT: DiTConfig = {
  ...DIT_PRESETS.tiny,
  dim: 16,
  heads: 2,
  ffnDim: 24,
  layers: 2,
  latentChannels: 2,
  textDim: 8,
  freqDim: 16,
  attention: { ...DIT_PRESETS.tiny.attention, groups: 2 },
};

/**
 * Adds scale x N(0, 1) (drawn from `noise`, parameter by parameter) to every weight: a fresh DiT's
 * adaLN-zero gates and zero output projections would otherwise make whole paths carry nothing.
 */
export function moveOffInit(model: VideoDiT, noise: Rng, scale: number): void {
  for (const [, p] of namedParams(model.params as never)) {
    const n = noise.normalArray(p.size);
    p.backend.write(
      p.storage,
      (p.dataSync() as Float32Array).map((v, i) => v + scale * n[i]),
    );
  }
}

/** A DiT's tensors by parameter name (what growDiT takes as its source). */
export const weightsOf = (m: VideoDiT) =>
  new Map(namedParams(m.params as never).map(([n, t]) => [n, t.dataSync() as Float32Array]));

/** An input for MICRO_DIT: latents [2, F, 4, 4] at time t, two shots of F / 2 frames, a global caption. */
export function microInput(rng: Rng, frames = 4, t = 0.6) {
  return {
    latents: rng.normal([2, frames, 4, 4]),
    t,
    text: {
      shots: [
        { frames: frames / 2, caption: rng.normal([2, 8]) },
        { frames: frames / 2, caption: rng.normal([3, 8]) },
      ],
      global: rng.normal([1, 8]),
    },
  };
}
