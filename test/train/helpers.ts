/** A tiny 2-layer MLP regression (2 -> 16 -> 1) for the training-loop tests. */
import { initLinear, type Linear, linear } from '../../src/nn/linear.js';
import { add, mean, mul, sin, sub, tanh } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, type Tensor } from '../../src/tensor/tensor.js';

export interface Mlp2 {
  l1: Linear;
  l2: Linear;
}

export function initMlp2(seed: number, hidden = 16): Mlp2 {
  const rng = new Rng(seed);
  return { l1: initLinear(rng, 2, hidden), l2: initLinear(rng, hidden, 1) };
}

export interface Batch {
  x: Float32Array; // [B, 2]
}

/** Deterministic batch for (step, micro): inputs in [-1, 1]^2. */
export function batchAt(step: number, micro: number, size = 16): Batch {
  return { x: new Rng(1000 + step * 31 + micro).uniformArray(size * 2).map((u) => 2 * u - 1) };
}

/** MSE to y = sin(3 x0) + x0 x1, with input noise drawn from the loop's RNG (tests RNG resume). */
export function mlpLoss(p: Mlp2, b: Batch, rng: Rng, noise = 0.05): Tensor {
  const n = b.x.length / 2;
  const x = fromArray(b.x, [n, 2]);
  const x0 = fromArray(
    b.x.filter((_, i) => i % 2 === 0),
    [n, 1],
  );
  const x1 = fromArray(
    b.x.filter((_, i) => i % 2 === 1),
    [n, 1],
  );
  const y = add(sin(mul(x0, 3)), mul(x0, x1));
  const xn = add(x, rng.normal([n, 2], noise));
  const pred = linear(p.l2, tanh(linear(p.l1, xn)));
  const d = sub(pred, y);
  return mean(mul(d, d));
}
