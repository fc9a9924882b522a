/**
 * The training objective of VideoDiT on a batch: rectified flow (src/diffusion) with the routers'
 * balancing losses. Samples sharing a latent size and shot layout run as one batched forward.
 * Randomness comes from one `Rng` in a fixed order (all times, then per sample
 * its noise, then its caption-dropout draw), so a step is reproducible from the RNG state alone,
 * which is what exact resume needs.
 */
import { flowLoss, noisedExample, sampleT, type TimeSampling } from '../../diffusion/rectified-flow.js';
import { add, mul } from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type VideoDiT, videoDiTBatch } from './dit.js';
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
  const B = batch.length;
  const ts = sampleT(rng, B, opts.sampling);
  const prepared = batch.map((ex, i) => {
    const e = rng.normal(ex.latents.shape);
    const { xt, target } = noisedExample(ex.latents, e, ts[i]);
    const text = opts.captionDropout
      ? dropText(ex.text, model.config.textDim, rng, opts.captionDropout)
      : ex.text;
    return { input: { latents: xt, t: ts[i], text }, target };
  });
  // samples with the same latent size and shot layout run as one batched forward
  const groups = new Map<string, number[]>();
  prepared.forEach(({ input }, i) => {
    const key = `${input.latents.shape}|${input.text.shots.map((s) => s.frames)}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  let total: Tensor | undefined;
  let mse = 0;
  let balance = 0;
  const acc = (t: Tensor) => {
    total = total ? add(total, t) : t;
  };
  for (const idx of groups.values()) {
    const out = videoDiTBatch(
      model,
      idx.map((i) => prepared[i].input),
    );
    idx.forEach((i, j) => {
      const l = flowLoss(out.velocities[j], prepared[i].target);
      mse += l.mse.item() / B;
      acc(mul(l.mse, 1 / B));
    });
    // a group's balancing loss covers its tokens: weight it by the group's share of the batch
    for (const b of out.balanceLosses) {
      balance += (b.item() * idx.length) / B;
      acc(mul(b, idx.length / B));
    }
  }
  return { loss: total!, mse, balance, t: ts };
}
