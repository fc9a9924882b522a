/**
 * The training objective of VideoDiT on a batch: rectified flow (src/diffusion) with the routers'
 * balancing losses. Randomness comes from one `Rng` in a fixed order (all times, then per sample
 * its noise, then its caption-dropout draw), so a step is reproducible from the RNG state alone,
 * which is what exact resume needs.
 */
import { flowLoss, noisedExample, sampleT, type TimeSampling } from '../../diffusion/rectified-flow.js';
import { add, mul } from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type VideoDiT, videoDiT } from './dit.js';
import { dropText, type MultiShotText } from './text.js';

export interface VideoExample {
  readonly latents: Tensor; // [C, F, H, W], clean (t = 0)
  readonly text: MultiShotText;
}

export interface FlowLossOptions {
  readonly sampling: TimeSampling;
  /** Probability of training a sample with the empty caption (for classifier-free guidance). */
  readonly captionDropout?: number;
}

export interface FlowLossResult {
  /** Mean over the batch of MSE + balancing losses: what to differentiate. */
  readonly loss: Tensor; // []
  /** The parts, as numbers for logging. */
  readonly mse: number;
  readonly balance: number;
  readonly t: Float32Array;
}

export function ditFlowLoss(
  model: VideoDiT,
  batch: readonly VideoExample[],
  rng: Rng,
  opts: FlowLossOptions,
): FlowLossResult {
  if (batch.length === 0) throw new Error('ditFlowLoss: empty batch');
  const ts = sampleT(rng, batch.length, opts.sampling);
  let total: Tensor | undefined;
  let mse = 0;
  let balance = 0;
  batch.forEach((ex, i) => {
    const e = rng.normal(ex.latents.shape);
    const { xt, target } = noisedExample(ex.latents, e, ts[i]);
    const text = opts.captionDropout
      ? dropText(ex.text, model.config.textDim, rng, opts.captionDropout)
      : ex.text;
    const out = videoDiT(model, { latents: xt, t: ts[i], text });
    const l = flowLoss(out.velocity, target, out.balanceLosses);
    mse += l.mse.item() / batch.length;
    balance += (l.loss.item() - l.mse.item()) / batch.length;
    total = total ? add(total, l.loss) : l.loss;
  });
  return { loss: mul(total!, 1 / batch.length), mse, balance, t: ts };
}
