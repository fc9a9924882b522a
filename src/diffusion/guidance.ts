/**
 * Classifier-free guidance (Ho & Salimans 2022): the model is also trained with an empty caption,
 * and sampling extrapolates away from that unconditional velocity:
 *   v = v_uncond + w (v_cond - v_uncond),   w = 1 is plain conditional sampling.
 */
import { add, mul, sub } from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';

export function guide(vCond: Tensor, vUncond: Tensor, scale: number): Tensor {
  return add(vUncond, mul(sub(vCond, vUncond), scale));
}

/** A velocity function that evaluates both branches and guides; w = 1 skips the unconditional pass. */
export function guidedVelocity(
  cond: (x: Tensor, t: number) => Tensor,
  uncond: (x: Tensor, t: number) => Tensor,
  scale: number,
): (x: Tensor, t: number) => Tensor {
  if (scale === 1) return cond;
  return (x, t) => guide(cond(x, t), uncond(x, t), scale);
}
