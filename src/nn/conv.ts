/**
 * Convolution layers over video tensors [B, C, T, H, W] (PyTorch layout, so foreign checkpoints
 * load as they are). Conv2d is Conv3d with kernel depth 1. `causalConv3d` pads time only on the past
 * side, so output frame t never sees input frames after t.
 */

import { add, reshape } from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { apply, type Tensor } from '../tensor/tensor.js';

export type Triple = [number, number, number];

export interface Conv3d {
  weight: Tensor; // [Co, Ci, KT, KH, KW]
  bias?: Tensor; // [Co]
}

export interface ConvOptions {
  stride?: number | Triple;
  /** Zero padding: one number for every side, or (before, after) per axis (T, H, W). */
  padding?: number | [number, number][];
}

const triple = (v: number | Triple): Triple => (typeof v === 'number' ? [v, v, v] : v);

/** Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) like PyTorch, or N(0, std) when given; bias as PyTorch. */
export function initConv3d(
  rng: Rng,
  cin: number,
  cout: number,
  kernel: number | Triple,
  opts: { bias?: boolean; std?: number } = {},
): Conv3d {
  const k = triple(kernel);
  const shape = [cout, cin, ...k];
  const fan = cin * k[0] * k[1] * k[2];
  const weight =
    opts.std !== undefined
      ? rng.normal(shape, opts.std)
      : rng.uniform(shape, -1 / Math.sqrt(fan), 1 / Math.sqrt(fan));
  // Bias like PyTorch, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), not zero: with zero biases a stack of
  // convs and norms is invariant to the input's scale, so e.g. a VAE could not tell dark from bright.
  return opts.bias === false
    ? { weight }
    : { weight, bias: rng.uniform([cout], -1 / Math.sqrt(fan), 1 / Math.sqrt(fan)) };
}

/** The conv3d primitive: x [B, Ci, T, H, W], w [Co, Ci, KT, KH, KW] -> [B, Co, To, Ho, Wo]. */
export function conv3d(x: Tensor, w: Tensor, opts: ConvOptions = {}): Tensor {
  const stride = triple(opts.stride ?? 1);
  const pd = opts.padding ?? 0;
  const padding: [number, number][] =
    typeof pd === 'number'
      ? [
          [pd, pd],
          [pd, pd],
          [pd, pd],
        ]
      : pd;
  return apply('conv3d', [x, w], { stride: [...stride], padding })[0];
}

/** A conv layer with bias: x [B, Ci, T, H, W] -> [B, Co, To, Ho, Wo]. */
export function applyConv3d(p: Conv3d, x: Tensor, opts: ConvOptions = {}): Tensor {
  const y = conv3d(x, p.weight, opts);
  return p.bias ? add(y, reshape(p.bias, [p.bias.size, 1, 1, 1])) : y;
}

/**
 * Causal in time: KT - 1 zero frames before the clip, none after. Space gets "same" padding
 * ((K - 1) / 2 before, K / 2 after) unless `spatialPadding` gives (before, after) explicitly
 * (e.g. (0, 1) for a stride-2 kernel-3 downsampler on even sizes, as Wan's VAE does).
 */
export function causalConv3d(
  p: Conv3d,
  x: Tensor,
  opts: { stride?: number | Triple; spatialPadding?: [number, number] } = {},
): Tensor {
  const [, , kt, kh, kw] = p.weight.shape;
  const sp = opts.spatialPadding;
  return applyConv3d(p, x, {
    stride: opts.stride,
    padding: [[kt - 1, 0], sp ?? [(kh - 1) >> 1, kh >> 1], sp ?? [(kw - 1) >> 1, kw >> 1]],
  });
}

/** 2D convolution on images x [B, Ci, H, W] with weight [Co, Ci, KH, KW] (Conv3d of depth 1). */
export function conv2d(
  x: Tensor,
  w: Tensor,
  opts: { stride?: number | [number, number]; padding?: number | [number, number][] } = {},
): Tensor {
  const [B, C, H, W] = x.shape;
  const [Co, Ci, KH, KW] = w.shape;
  const s = opts.stride ?? 1;
  const stride: Triple = typeof s === 'number' ? [1, s, s] : [1, s[0], s[1]];
  const pd = opts.padding ?? 0;
  const padding: [number, number][] =
    typeof pd === 'number'
      ? [
          [0, 0],
          [pd, pd],
          [pd, pd],
        ]
      : [[0, 0], ...pd];
  const y = conv3d(reshape(x, [B, C, 1, H, W]), reshape(w, [Co, Ci, 1, KH, KW]), { stride, padding });
  return reshape(y, [B, Co, y.shape[3], y.shape[4]]);
}
