/** Sinusoidal embeddings (timesteps) and 3D rotary position embeddings (frame, y, x). */
import { add, concat, mul, reshape, sliceAxis, sub } from '../tensor/ops.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';

/** t [B] (in [0, 1000) or any scale) -> [B, dim]: [cos(t w_i), sin(t w_i)], w_i = 10000^(-i/half). */
export function timestepEmbedding(t: Float32Array, dim: number): Tensor {
  const half = dim >> 1;
  const out = new Float32Array(t.length * dim);
  for (let b = 0; b < t.length; b++)
    for (let i = 0; i < half; i++) {
      const w = 10000 ** (-i / half);
      out[b * dim + i] = Math.cos(t[b] * w);
      out[b * dim + half + i] = Math.sin(t[b] * w);
    }
  return fromArray(out, [t.length, dim]);
}

/**
 * Rotary tables for tokens on a (frame, y, x) grid. The head dimension is split as in Wan2.1:
 * d - 4*(d/6 rounded to even) channels for time, the rest halved between y and x.
 * Returns cos and sin of shape [N, D/2], one row per token (token = (f * H + y) * W + x), for the
 * positions given (so a plan over a subset, or a shifted window, can pass its own positions).
 */
export function rope3dTables(
  positions: { f: ArrayLike<number>; y: ArrayLike<number>; x: ArrayLike<number> },
  headDim: number,
  theta = 10000,
) {
  if (headDim % 2) throw new Error(`rotary embedding needs an even head dimension, got ${headDim}`);
  const half = headDim / 2;
  const pairsHW = Math.floor(headDim / 6); // channel pairs for y and for x
  const pairsT = half - 2 * pairsHW;
  const n = positions.f.length;
  const cos = new Float32Array(n * half);
  const sin = new Float32Array(n * half);
  const axes: [ArrayLike<number>, number, number][] = [
    [positions.f, 0, pairsT],
    [positions.y, pairsT, pairsHW],
    [positions.x, pairsT + pairsHW, pairsHW],
  ];
  for (let i = 0; i < n; i++)
    for (const [pos, start, count] of axes)
      for (let j = 0; j < count; j++) {
        const freq = theta ** (-(2 * j) / (2 * count));
        const a = pos[i] * freq;
        cos[i * half + start + j] = Math.cos(a);
        sin[i * half + start + j] = Math.sin(a);
      }
  return { cos: fromArray(cos, [n, half]), sin: fromArray(sin, [n, half]) };
}

/** Grid positions of every token of a [frames, height, width] grid, token-major. */
export function gridPositions(frames: number, height: number, width: number) {
  const n = frames * height * width;
  const f = new Int32Array(n);
  const y = new Int32Array(n);
  const x = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = i % width;
    y[i] = Math.floor(i / width) % height;
    f[i] = Math.floor(i / (width * height));
  }
  return { f, y, x };
}

/**
 * Rotates channel pairs (2j, 2j+1) of x [N, H, D] by the angles whose cos/sin are [N, D/2].
 * Written with primitives, so it differentiates like any other op.
 */
export function applyRope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const [n, h, d] = x.shape;
  const pairs = reshape(x, [n, h, d / 2, 2]);
  const xe = reshape(sliceAxis(pairs, 3, 0, 1), [n, h, d / 2]);
  const xo = reshape(sliceAxis(pairs, 3, 1, 2), [n, h, d / 2]);
  const c = reshape(cos, [n, 1, d / 2]);
  const s = reshape(sin, [n, 1, d / 2]);
  const re = sub(mul(xe, c), mul(xo, s));
  const ro = add(mul(xe, s), mul(xo, c));
  return reshape(concat([reshape(re, [n, h, d / 2, 1]), reshape(ro, [n, h, d / 2, 1])], 3), [n, h, d]);
}
