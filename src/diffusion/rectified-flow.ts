/**
 * Rectified flow (Liu et al. 2022; Esser et al. 2024), the training objective of Wan2.1 and MoGA.
 *
 *   x_t = (1 - t) x0 + t e,   e ~ N(0, I),   t in [0, 1]   (t = 0 data, t = 1 noise)
 *   target velocity v = dx_t/dt = e - x0
 *   loss = mean((v_theta(x_t, t) - v)^2) + the routers' group-balancing losses
 *   (optionally a weighted mean: the frames a conditioned model must draw, the cells with objects)
 *
 * Timestep shift (SD3 / Wan): t' = s t / (1 + (s - 1) t), s > 1 spends more time near noise,
 * which larger latents (more tokens, more redundancy) need.
 */
import { add, mean, mul, sliceAxis, sub } from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';

/** t' = s t / (1 + (s - 1) t); s = 1 is the identity. Maps [0, 1] onto itself monotonically. */
export function shiftTime(t: number, shift: number): number {
  if (!(shift > 0)) throw new Error(`timestep shift must be > 0, got ${shift}`);
  return (shift * t) / (1 + (shift - 1) * t);
}

/** How training draws t (JSON-serialisable). */
export type TimeSampling =
  | { readonly kind: 'uniform'; readonly shift?: number }
  /** t = sigmoid(mean + std * n), n ~ N(0, 1) (SD3's default is mean 0, std 1). */
  | { readonly kind: 'logit-normal'; readonly mean?: number; readonly std?: number; readonly shift?: number };

/** `n` training times in (0, 1) from `rng`, shifted by `sampling.shift` (default 1). */
export function sampleT(rng: Rng, n: number, sampling: TimeSampling): Float32Array {
  const out = new Float32Array(n);
  const shift = sampling.shift ?? 1;
  if (sampling.kind === 'uniform') {
    const u = rng.uniformArray(n);
    for (let i = 0; i < n; i++) out[i] = shiftTime(u[i], shift);
  } else if (sampling.kind === 'logit-normal') {
    const z = rng.normalArray(n);
    const m = sampling.mean ?? 0;
    const s = sampling.std ?? 1;
    for (let i = 0; i < n; i++) out[i] = shiftTime(1 / (1 + Math.exp(-(m + s * z[i]))), shift);
  } else {
    throw new Error(
      `unknown time sampling '${(sampling as { kind: string }).kind}' (known: uniform, logit-normal)`,
    );
  }
  return out;
}

/** x_t = (1 - t) x0 + t e; `t` a number or a tensor broadcastable against x0. */
export function interpolate(x0: Tensor, e: Tensor, t: number | Tensor): Tensor {
  return add(mul(x0, typeof t === 'number' ? 1 - t : sub(1, t)), mul(e, t));
}

/** The regression target of the velocity network: v = e - x0. */
export function velocityTarget(x0: Tensor, e: Tensor): Tensor {
  return sub(e, x0);
}

/** One training example at time t: the noised input and its target. */
export function noisedExample(x0: Tensor, e: Tensor, t: number): { xt: Tensor; target: Tensor } {
  return { xt: interpolate(x0, e, t), target: velocityTarget(x0, e) };
}

/**
 * MSE between predicted and target velocity, plus the routers' balancing losses (already weighted
 * by alpha by whoever produced them). Returns the total and the MSE part (for logging).
 */
export function flowLoss(
  pred: Tensor,
  target: Tensor,
  balancing: readonly Tensor[] = [],
  /**
   * Per-element weights `map` (broadcast over the prediction) and their `mean` over its elements:
   * the error is then mean(map * d^2) / mean, a weighted mean (a 0/1 map: the MSE over the
   * elements it keeps). Absent: the plain mean over all.
   */
  weight?: Weights,
  /**
   * A video's temporal term (pred [C, F, H, W]): `temporal.weight` x the weighted mean of the
   * squared change of the error d between consecutive frames, (d[:, f+1] - d[:, f])^2, with
   * `map` [1, F - 1, H, W] (0 across a cut). Any such quadratic form of d is minimised by the same
   * conditional mean, so it changes no optimum: it makes a model that cannot reach it err the same
   * way on neighbouring frames rather than differently (flicker, false cuts).
   */
  temporal?: Weights & { readonly weight: number },
): { loss: Tensor; mse: Tensor; temporal?: Tensor } {
  if (pred.shape.join() !== target.shape.join())
    throw new Error(`flowLoss: prediction [${pred.shape}] and target [${target.shape}] differ in shape`);
  for (const w of [weight, temporal])
    if (w && !(w.mean > 0 && Number.isFinite(w.mean)))
      throw new Error(`flowLoss: the weights' mean is ${w.mean}, need > 0`);
  const d = sub(pred, target);
  const weighted = (x: Tensor, w?: Weights) =>
    w ? mul(mean(mul(mul(x, x), w.map)), 1 / w.mean) : mean(mul(x, x));
  const mse = weighted(d, weight);
  let loss = mse;
  let change: Tensor | undefined;
  if (temporal) {
    const F = pred.shape[1];
    if (pred.shape.length !== 4 || temporal.map.shape[1] !== F - 1)
      throw new Error(
        `flowLoss: a temporal map [${temporal.map.shape}] for a prediction [${pred.shape}] (need [C, F, H, W] and F - 1 pairs)`,
      );
    change = weighted(sub(sliceAxis(d, 1, 1, F), sliceAxis(d, 1, 0, F - 1)), temporal);
    loss = add(loss, mul(change, temporal.weight));
  }
  for (const b of balancing) loss = add(loss, b);
  return { loss, mse, ...(change ? { temporal: change } : {}) };
}

/** Per-element loss weights (broadcast over what they weigh) and their mean. */
export interface Weights {
  readonly map: Tensor;
  readonly mean: number;
}
