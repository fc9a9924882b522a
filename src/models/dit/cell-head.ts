/**
 * The cell head (config.cellHead): a correction at the latent cell's resolution after the token
 * head. A 1x2x2 patch draws a token's four cells from one hidden vector, and at this project's
 * scale an object is one or two tokens wide, so its outline lives inside a token; the cell head
 * lets each cell read its neighbours and the noisy input beside the token head's answer:
 *
 *   [x0 [C]; features [E]; x_t [C]; t [1]] (per cell) --conv 1x3x3, GELU, conv 1x3x3--> + x0
 *
 * The last convolution starts at zero, so a fresh cell head (or one grown onto a trained DiT,
 * grow.ts) leaves the output as it was.
 */
import { applyConv3d, type Conv3d, initConv3d } from '../../nn/conv.js';
import { initLinear, type Linear } from '../../nn/linear.js';
import { add, concat, gelu, reshape } from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import { fromArray, type Tensor, tidyIfNoGrad } from '../../tensor/tensor.js';

export interface CellHeadParams {
  features: Linear; // dim -> pt*ph*pw*E (the token head's layout: patch position major)
  conv1: Conv3d; // [hidden, 2C+E+1, 1, 3, 3]
  conv2: Conv3d; // [C, hidden, 1, 3, 3], zero at init
}

export function initCellHead(
  rng: Rng,
  dim: number,
  patchCells: number,
  channels: number,
  spec: { hidden: number; features: number },
): CellHeadParams {
  const conv2 = initConv3d(rng.fork(3), spec.hidden, channels, [1, 3, 3], { std: 0 });
  conv2.bias = fromArray(new Float32Array(channels), [channels]);
  return {
    features: initLinear(rng.fork(1), dim, patchCells * spec.features),
    conv1: initConv3d(rng.fork(2), 2 * channels + spec.features + 1, spec.hidden, [1, 3, 3]),
    conv2,
  };
}

const SAME_3X3: [number, number][] = [
  [0, 0],
  [1, 1],
  [1, 1],
];

/** x0, x_t [C, F, H, W], features [E, F, H, W], flow time t -> x0 + the cells' correction. */
export function cellHead(p: CellHeadParams, x0: Tensor, features: Tensor, xt: Tensor, t: number): Tensor {
  const [C, F, H, W] = x0.shape;
  const h = tidyIfNoGrad(() => {
    const tMap = fromArray(new Float32Array(F * H * W).fill(t), [1, F, H, W]);
    const input = concat([x0, features, xt, tMap], 0);
    const hidden = gelu(applyConv3d(p.conv1, reshape(input, [1, ...input.shape]), { padding: SAME_3X3 }));
    return reshape(applyConv3d(p.conv2, hidden, { padding: SAME_3X3 }), [C, F, H, W]);
  });
  return add(x0, h);
}
