/**
 * The VAE's layers on video tensors [B, C, T, H, W], all causal in time and streamable: every
 * temporal conv reads its past frames from a `StreamState` cache instead of zero padding, so a clip
 * processed chunk by chunk gives the same result as one pass.
 */
import { applyConv3d, type Conv3d, initConv3d, type Triple } from '../../nn/conv.js';
import {
  add,
  broadcastTo,
  concat,
  layerNorm,
  mul,
  pad,
  permute,
  reshape,
  silu,
  sliceAxis,
} from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import { full, type Tensor } from '../../tensor/tensor.js';

/**
 * The causal cache of a streamed encode or decode: per temporal conv (by layer name), the input
 * frames not yet consumed (the last KT - stride..KT - 1 frames), and how many frames the stream
 * has taken so far (the very first frame is special: it is kept alone by the 4x time compression).
 */
export interface StreamState {
  readonly caches: { readonly [layer: string]: Tensor };
  readonly frames: number;
}

export function newStreamState(): StreamState {
  return { caches: {}, frames: 0 };
}

export function disposeStreamState(s: StreamState): void {
  for (const t of Object.values(s.caches)) t.dispose();
}

/** Where a layer writes its new cache during one chunk (`undefined` = whole clip, no cache). */
export type CacheOut = Record<string, Tensor> | undefined;

/**
 * A causal conv with stride s in time: the input is the cached tail (or KT - 1 zero frames at the
 * start of a stream) followed by the chunk; outputs start at every s-th frame of that; the frames
 * after the last output start become the next tail. Space: "same" padding, or (0, 1) for stride 2.
 * x [B, Ci, T, H, W] -> [B, Co, To, Ho, Wo]
 */
export function streamConv(
  p: Conv3d,
  x: Tensor,
  name: string,
  state: StreamState | undefined,
  cacheOut: CacheOut,
  stride: Triple = [1, 1, 1],
): Tensor {
  const [, , kt, kh, kw] = p.weight.shape;
  const prev = state?.caches[name];
  const xin = prev
    ? concat([prev, x], 2)
    : kt > 1
      ? pad(x, [
          [0, 0],
          [0, 0],
          [kt - 1, 0],
          [0, 0],
          [0, 0],
        ])
      : x;
  const L = xin.shape[2];
  if (L < kt)
    throw new Error(`${name}: ${L} frames in window, the causal kernel needs ${kt} (chunk too short)`);
  const n = Math.floor((L - kt) / stride[0]) + 1;
  if (cacheOut) cacheOut[name] = sliceAxis(xin, 2, n * stride[0], L);
  const sp = (k: number, s: number): [number, number] =>
    s === 2 ? [(k - 2) >> 1, k >> 1] : [(k - 1) >> 1, k >> 1];
  return applyConv3d(p, xin, { stride, padding: [[0, 0], sp(kh, stride[1]), sp(kw, stride[2])] });
}

export interface GroupNorm {
  weight: Tensor; // [C]
  bias: Tensor; // [C]
}

export function initGroupNorm(c: number): GroupNorm {
  return { weight: full([c], 1), bias: full([c], 0) };
}

/**
 * Group norm with statistics per frame (over a group's channels and the frame's pixels), not over
 * time: a frame's output never depends on other frames, which keeps the network causal and exact
 * under chunking. Uses the fused layer-norm kernel on [(B T G), (C/G H W)] rows.
 * x [B, C, T, H, W] -> same
 */
export function groupNorm(p: GroupNorm, x: Tensor, groups: number, eps = 1e-6): Tensor {
  const [B, C, T, H, W] = x.shape;
  const xt = permute(x, [0, 2, 1, 3, 4]); // (B, T, C, H, W)
  const rows = reshape(xt, [B * T * groups, (C / groups) * H * W]);
  const n = permute(reshape(layerNorm(rows, undefined, undefined, eps), [B, T, C, H, W]), [0, 2, 1, 3, 4]); // (B, C, T, H, W)
  // The affine in (B, C, T, H, W) layout: [C, 1, 1, 1] is a leading-run broadcast, which the fast
  // backends handle directly (in (B, T, C, H, W) it would be a middle broadcast).
  return add(mul(n, reshape(p.weight, [C, 1, 1, 1])), reshape(p.bias, [C, 1, 1, 1]));
}

/** Which normalisation the VAE uses: group norm per frame, or layer norm over channels per position. */
export interface NormSpec {
  readonly norm: 'group' | 'channel';
  readonly groups: number;
}

/**
 * Layer norm over the channels of each position (as Wan2.1's VAE normalises per position): it keeps
 * a flat region's absolute colour in the features, which per-frame group norm divides away, and it
 * does not depend on the frame size (training crops and full frames see the same statistics).
 * x [B, C, T, H, W] -> same
 */
export function channelNorm(p: GroupNorm, x: Tensor, eps = 1e-6): Tensor {
  const y = layerNorm(permute(x, [0, 2, 3, 4, 1]), p.weight, p.bias, eps); // (B, T, H, W, C)
  return permute(y, [0, 4, 1, 2, 3]);
}

export function videoNorm(p: GroupNorm, x: Tensor, n: NormSpec): Tensor {
  return n.norm === 'channel' ? channelNorm(p, x) : groupNorm(p, x, n.groups);
}

export interface ResBlock {
  norm1: GroupNorm;
  conv1: Conv3d;
  norm2: GroupNorm;
  conv2: Conv3d;
  skip?: Conv3d; // 1x1x1 when the width changes
}

export function initResBlock(rng: Rng, cin: number, cout: number, kt: number): ResBlock {
  const conv2 = initConv3d(rng, cout, cout, [kt, 3, 3]);
  // Start each block near identity: a small last conv keeps early training stable.
  const drawn = conv2.weight;
  conv2.weight = rng.normal(drawn.shape, 1e-3 / Math.sqrt(cout));
  drawn.dispose(); // replaced: freed now, or a device backend keeps its buffer
  return {
    norm1: initGroupNorm(cin),
    conv1: initConv3d(rng, cin, cout, [kt, 3, 3]),
    norm2: initGroupNorm(cout),
    conv2,
    skip: cin === cout ? undefined : initConv3d(rng, cin, cout, 1),
  };
}

/** x [B, Ci, T, H, W] -> [B, Co, T, H, W] */
export function resBlock(
  p: ResBlock,
  x: Tensor,
  norm: NormSpec,
  name: string,
  state: StreamState | undefined,
  out: CacheOut,
): Tensor {
  let h = streamConv(p.conv1, silu(videoNorm(p.norm1, x, norm)), `${name}.conv1`, state, out);
  h = streamConv(p.conv2, silu(videoNorm(p.norm2, h, norm)), `${name}.conv2`, state, out);
  return add(p.skip ? applyConv3d(p.skip, x) : x, h);
}

/** Space-to-depth: [B, C, T, H, W] -> [B, C p p, T, H/p, W/p] (channel index = (c, dy, dx)). */
export function patchify(x: Tensor, p: number): Tensor {
  if (p === 1) return x;
  const [B, C, T, H, W] = x.shape;
  if (H % p || W % p) throw new Error(`frame size ${W}x${H} is not a multiple of the VAE's spatial factor`);
  const r = reshape(x, [B, C, T, H / p, p, W / p, p]);
  return reshape(permute(r, [0, 1, 4, 6, 2, 3, 5]), [B, C * p * p, T, H / p, W / p]);
}

/** Depth-to-space, the inverse of `patchify`. */
export function unpatchify(x: Tensor, p: number): Tensor {
  if (p === 1) return x;
  const [B, Cpp, T, h, w] = x.shape;
  const C = Cpp / (p * p);
  const r = reshape(x, [B, C, p, p, T, h, w]);
  return reshape(permute(r, [0, 1, 4, 5, 2, 6, 3]), [B, C, T, h * p, w * p]);
}

/**
 * Nearest upsampling x2 in space and time, causal: every frame becomes two, except the first frame
 * of the whole stream, which stays one (so 1 + n latent frames become 1 + 2n).
 * x [B, C, T, H, W] -> [B, C, 2T (- 1 at stream start), 2H, 2W]
 */
export function upsample2x(x: Tensor, streamStart: boolean): Tensor {
  const [B, C, T, H, W] = x.shape;
  const r = reshape(x, [B, C, T, 1, H, 1, W, 1]);
  const y = reshape(broadcastTo(r, [B, C, T, 2, H, 2, W, 2]), [B, C, 2 * T, 2 * H, 2 * W]);
  return streamStart ? sliceAxis(y, 2, 1, 2 * T) : y;
}
