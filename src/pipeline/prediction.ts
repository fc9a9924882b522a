/**
 * What the DiT's output means. Wan2.1 predicts the velocity v = e - x0 directly ('velocity').
 * A tiny model struggles with that: at small t it must pass the noise of every patch through its
 * narrow width to the output (v ~ (x_t - x0) / t), and what it fails to pass stays in the
 * samples as blocky noise. With 'data' the network predicts the clean latent x0 (smooth, easy),
 * is trained with the x0 regression loss, and the sampler gets v = (x_t - x0_hat) / t, the same
 * flow; DPM-Solver++'s data prediction x - t v is then exactly the network's output.
 */
import { flowLoss, noisedExample, sampleT, type TimeSampling } from '../diffusion/rectified-flow.js';
import { guidedVelocityFn, type VideoDiT, videoDiT } from '../models/dit/dit.js';
import { dropText, type MultiShotText } from '../models/dit/text.js';
import { add, mul, sub } from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';

export type Prediction = 'velocity' | 'data';

/** The sampler's velocity v(x, t) from the network, guidance included. */
export function samplingVelocity(
  dit: VideoDiT,
  text: MultiShotText,
  guidance: number,
  prediction: Prediction,
): (x: Tensor, t: number) => Tensor {
  const out = guidedVelocityFn(dit, text, guidance); // guidance is linear, so it applies to x0_hat alike
  if (prediction === 'velocity') return out;
  return (x, t) => mul(sub(x, out(x, t)), 1 / Math.max(t, 1e-4));
}

/** The training loss of a batch for either parameterisation (randomness from `rng` only). */
export function predictionLoss(
  dit: VideoDiT,
  batch: readonly { latents: Tensor; text: MultiShotText }[],
  rng: Rng,
  opts: { prediction: Prediction; sampling: TimeSampling; captionDropout: number },
): { loss: Tensor; mse: number } {
  const ts = sampleT(rng, batch.length, opts.sampling);
  let total: Tensor | undefined;
  let mse = 0;
  batch.forEach((ex, i) => {
    const e = rng.normal(ex.latents.shape);
    const { xt, target } = noisedExample(ex.latents, e, ts[i]);
    const text = dropText(ex.text, dit.config.textDim, rng, opts.captionDropout);
    const out = videoDiT(dit, { latents: xt, t: ts[i], text });
    const l = flowLoss(out.velocity, opts.prediction === 'velocity' ? target : ex.latents, out.balanceLosses);
    mse += l.mse.item() / batch.length;
    total = total ? add(total, l.loss) : l.loss;
  });
  return { loss: mul(total!, 1 / batch.length), mse };
}
