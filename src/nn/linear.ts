/** Linear layers: weight [out, in] (PyTorch layout, so foreign checkpoints load as they are). */

import { add, matmul, reshape } from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { full, type Tensor } from '../tensor/tensor.js';

export interface Linear {
  weight: Tensor; // [out, in]
  bias?: Tensor; // [out]
}

/** Uniform(-1/sqrt(in), 1/sqrt(in)) like PyTorch, or N(0, std) when given; bias zero. */
export function initLinear(
  rng: Rng,
  din: number,
  dout: number,
  opts: { bias?: boolean; std?: number } = {},
): Linear {
  const weight =
    opts.std !== undefined
      ? rng.normal([dout, din], opts.std)
      : rng.uniform([dout, din], -1 / Math.sqrt(din), 1 / Math.sqrt(din));
  return opts.bias === false ? { weight } : { weight, bias: full([dout], 0) };
}

/** x [..., in] -> [..., out] */
export function linear(p: Linear, x: Tensor): Tensor {
  const din = x.shape[x.rank - 1];
  const dout = p.weight.shape[0];
  const y = matmul(reshape(x, [-1, din]), p.weight, { transB: true }); // (rows, out)
  const yb = p.bias ? add(y, p.bias) : y;
  return reshape(yb, [...x.shape.slice(0, -1), dout]);
}
