/** Normalisation layers over the last axis (fused kernels with their own backward). */
import { layerNorm, rmsNorm } from '../tensor/ops.js';
import { full, type Tensor } from '../tensor/tensor.js';

export interface Norm {
  weight?: Tensor; // [d]
  bias?: Tensor; // [d]
  eps: number;
}

export function initRmsNorm(d: number, eps = 1e-6): Norm {
  return { weight: full([d], 1), eps };
}

/** Layer norm; without `affine` it has no parameters (AdaLN supplies scale and shift). */
export function initLayerNorm(d: number, opts: { affine?: boolean; eps?: number } = {}): Norm {
  const eps = opts.eps ?? 1e-6;
  return opts.affine === false ? { eps } : { weight: full([d], 1), bias: full([d], 0), eps };
}

export function applyRmsNorm(p: Norm, x: Tensor): Tensor {
  return rmsNorm(x, p.weight, p.eps);
}

export function applyLayerNorm(p: Norm, x: Tensor): Tensor {
  return layerNorm(x, p.weight, p.bias, p.eps);
}
