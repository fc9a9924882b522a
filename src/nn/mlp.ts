/** The transformer feed-forward layer: Linear -> GELU(tanh) -> Linear, as in Wan2.1. */

import { gelu } from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { initLinear, type Linear, linear } from './linear.js';

export interface Mlp {
  fc1: Linear;
  fc2: Linear;
}

export function initMlp(rng: Rng, dim: number, hidden: number): Mlp {
  return { fc1: initLinear(rng, dim, hidden), fc2: initLinear(rng, hidden, dim) };
}

/** x [..., dim] -> [..., dim] */
export function mlp(p: Mlp, x: Tensor): Tensor {
  return linear(p.fc2, gelu(linear(p.fc1, x)));
}
