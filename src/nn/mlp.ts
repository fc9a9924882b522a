/** The transformer feed-forward layer: Linear -> GELU(tanh) -> Linear, as in Wan2.1. */

import { gelu } from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { type Tensor, tidyIfNoGrad } from '../tensor/tensor.js';
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
  // without autodiff the pre-activation is freed before fc2 runs (the widest tensor of the block)
  return linear(
    p.fc2,
    tidyIfNoGrad(() => gelu(linear(p.fc1, x))),
  );
}
