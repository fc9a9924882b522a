/** Flow Euler: follow the velocity in a straight line, x_{t'} = x_t + (t' - t) v. First order. */
import { add, mul } from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import type { StepResult } from './sampler.js';

export interface EulerConfig {
  readonly kind: 'euler';
}

export function eulerStep(x: Tensor, v: Tensor, t: number, tNext: number): StepResult {
  return { x: add(x, mul(v, tNext - t)) };
}
