/**
 * DPM-Solver++(2M) (Lu et al. 2022) written for rectified flow.
 *
 * Rectified flow is the diffusion x_t = alpha_t x0 + sigma_t e with alpha_t = 1 - t, sigma_t = t,
 * so the solver's data prediction is x0_hat = x - t v and its half-log-SNR lambda_t = log((1-t)/t).
 * With h = lambda_s - lambda_t, the first-order update (DDIM) from t to s is
 *
 *   x_s = (sigma_s / sigma_t) x_t + alpha_s (1 - e^{-h}) D,      D = x0_hat(t)
 *
 * which, with x0_hat = x - t v, is exactly the flow Euler step x + (s - t) v; the gain is all in
 * the second-order multistep version replaces D by the extrapolation
 *   D = (1 + 1/(2r)) x0_hat(t) - 1/(2r) x0_hat(t_prev),   r = (lambda_t - lambda_prev) / h.
 * e^{-h} = ((1 - t) s) / (t (1 - s)) is computed as a ratio, so t = 1 (lambda = -inf) and s = 0
 * (lambda = +inf) need no special infinities: the first step from pure noise and the last step to
 * data fall back to first order (diffusers' `lower_order_final`), the middle steps are second order.
 */
import { add, mul, sub } from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Carry, StepResult } from './sampler.js';

export interface DpmSolverConfig {
  readonly kind: 'dpm-solver++';
  /** 1 (DDIM in data prediction) or 2 (the 2M multistep method). */
  readonly order: 1 | 2;
}

const lambda = (t: number) => Math.log((1 - t) / t);

export function dpmSolverStep(
  config: DpmSolverConfig,
  x: Tensor,
  v: Tensor,
  t: number,
  tNext: number,
  carry?: Carry,
): StepResult {
  if (config.order !== 1 && config.order !== 2)
    throw new Error(`dpm-solver++ order must be 1 or 2, got ${config.order}`);
  const x0 = sub(x, mul(v, t)); // data prediction
  const expNegH = tNext === 0 ? 0 : ((1 - t) * tNext) / (t * (1 - tNext));
  const secondOrder = config.order === 2 && carry !== undefined && carry.t < 1 && t < 1 && tNext > 0;
  let d = x0;
  if (secondOrder) {
    const r = (lambda(t) - lambda(carry.t)) / (lambda(tNext) - lambda(t));
    d = sub(mul(x0, 1 + 1 / (2 * r)), mul(carry.x0, 1 / (2 * r)));
  }
  const xNext = add(mul(x, tNext / t), mul(d, (1 - tNext) * (1 - expNegH)));
  return { x: xNext, carry: { x0, t } };
}
