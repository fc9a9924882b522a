/**
 * Parameter-free shortcuts around the VAE's resolution changes (as DC-AE adds around its down- and
 * upsampling convs): averaging pools and channel maps, so that at initialisation the autoencoder
 * already passes each latent cell's mean colour through, and the convs learn the detail on top.
 * Without them the input must first find its way through a dozen randomly initialised convs, which
 * takes thousands of steps. All are per-frame or per-pair causal, so streaming stays exact.
 */
import { concat, matmul, mean, reshape, sliceAxis } from '../../tensor/ops.js';
import { fromArray, type Tensor } from '../../tensor/tensor.js';

/**
 * Fixed channel map [B, C, T, H, W] -> [B, cout, T, H, W]: output channel j averages input channels
 * [j C / cout, (j + 1) C / cout) when reducing, and copies channel floor(j C / cout) when expanding.
 */
export function channelMap(x: Tensor, cout: number): Tensor {
  const [B, C, T, H, W] = x.shape;
  if (C === cout) return x;
  const m = new Float32Array(cout * C);
  for (let j = 0; j < cout; j++) {
    const lo = Math.floor((j * C) / cout);
    const hi = Math.max(lo + 1, Math.floor(((j + 1) * C) / cout));
    for (let i = lo; i < hi; i++) m[j * C + i] = 1 / (hi - lo);
  }
  const y = matmul(fromArray(m, [cout, C], x.backend), reshape(x, [B, C, T * H * W])); // (B, cout, THW)
  return reshape(y, [B, cout, T, H, W]);
}

/**
 * Causal 2x average pool in time and space: frames pair up as (1, 2), (3, 4), ... after the stream's
 * first frame, which stays alone (matching the strided causal conv's output frames).
 * x [B, C, T, H, W] -> [B, C, T', H/2, W/2]
 */
export function pool2x(x: Tensor, streamStart: boolean): Tensor {
  const [B, C, T, H, W] = x.shape;
  const s = mean(mean(reshape(x, [B, C, T, H / 2, 2, W / 2, 2]), 6), 4); // (B, C, T, H/2, W/2)
  const pairs = (t: Tensor) => {
    const n = t.shape[2];
    if (n === 0) return undefined;
    if (n % 2) throw new Error(`pool2x: ${n} frames do not pair up`);
    return mean(reshape(t, [B, C, n / 2, 2, H / 2, W / 2]), 3);
  };
  if (!streamStart) return pairs(s)!;
  const rest = pairs(sliceAxis(s, 2, 1, T));
  const first = sliceAxis(s, 2, 0, 1);
  return rest ? concat([first, rest], 2) : first;
}
