/**
 * A parameter-free stand-in for the VAE with the same geometry (4x time, 8x space, 16 channels),
 * used to develop and test the pipeline without a trained VAE. Each latent cell summarises one
 * block of frames x 8 x 8 pixels (the first latent frame covers frame 0 alone):
 *   channels 0..11   mean colour of each 4x4 quadrant of the block, per RGB channel (c * 4 + q)
 *   channels 12..15  mean brightness of each of the block's 4 frames minus the block mean
 * Decoding paints every pixel with its quadrant's colour plus its frame's brightness offset, so
 * flat colours, blocky shapes and fades survive; fine detail does not. Values are divided by
 * SCALE so a typical latent has roughly unit spread, as the DiT expects.
 */
import { exactLatentFrames, videoFramesOf } from '../models/latent-layout.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import { encodeWhole, type LatentCodec, type LatentEncoder } from './codec.js';

const SPACE = 8;
const TIME = 4;
const SCALE = 0.5;

export function poolCodec(): LatentCodec {
  return {
    kind: 'pool',
    channels: 16,
    space: SPACE,
    time: TIME,
    dispose() {}, // no weights
    encode: (video) => encodeWhole(poolEncoder, video),
    encoder: poolEncoder,
    decoder() {
      let next = 0; // the next latent frame index of the stream
      return {
        push(zt: Tensor) {
          const [C, n, h, w] = zt.shape;
          if (zt.rank !== 4 || C !== 16)
            throw new Error(`pool codec: expected latent [16, n, h, w], got [${zt.shape}]`);
          const z = zt.dataSync() as Float32Array;
          const H = h * SPACE;
          const W = w * SPACE;
          const counts = Array.from({ length: n }, (_, i) => {
            const [f0, f1] = videoFramesOf(next + i, TIME);
            return f1 - f0;
          });
          const F = counts.reduce((a, b) => a + b, 0);
          const out = new Float32Array(3 * F * H * W);
          const at = (ch: number, i: number, y: number, xx: number) => ((ch * n + i) * h + y) * w + xx;
          let f = 0;
          for (let i = 0; i < n; i++) {
            for (let k = 0; k < counts[i]; k++, f++)
              for (let y = 0; y < H; y++) {
                const by = Math.floor(y / SPACE);
                const qy = Math.floor((y % SPACE) / (SPACE / 2));
                for (let xx = 0; xx < W; xx++) {
                  const bx = Math.floor(xx / SPACE);
                  const q = qy * 2 + Math.floor((xx % SPACE) / (SPACE / 2));
                  const d = z[at(12 + k, i, by, bx)];
                  for (let ch = 0; ch < 3; ch++)
                    out[((ch * F + f) * H + y) * W + xx] = (z[at(ch * 4 + q, i, by, bx)] + d) * SCALE;
                }
              }
          }
          next += n;
          return fromArray(out, [3, F, H, W]);
        },
        close() {},
      };
    },
  };
}

/** Pools each chunk's blocks (stateless; the stream only counts latent frames). */
function poolEncoder(): LatentEncoder {
  let next = 0; // the next latent frame index of the stream
  return {
    push(video) {
      const [c, F, H, W] = video.shape;
      if (video.rank !== 4 || c !== 3)
        throw new Error(`pool codec: expected video [3, F, H, W], got [${video.shape}]`);
      // the first chunk holds frame 0 alone plus whole blocks, later chunks whole blocks
      const n = next === 0 ? exactLatentFrames(F, TIME, 'pool codec') : F / TIME;
      if (!Number.isInteger(n))
        throw new Error(`pool codec: a chunk after the first needs a multiple of ${TIME} frames, got ${F}`);
      if (H % SPACE || W % SPACE)
        throw new Error(`pool codec: frame size ${W}x${H} must be a multiple of ${SPACE}`);
      const x = video.dataSync() as Float32Array;
      const h = H / SPACE;
      const w = W / SPACE;
      const z = new Float32Array(16 * n * h * w);
      const at = (ch: number, i: number, y: number, xx: number) => ((ch * n + i) * h + y) * w + xx;
      const half = SPACE / 2;
      const first = videoFramesOf(next, TIME)[0]; // the stream's frame at this chunk's frame 0
      for (let i = 0; i < n; i++) {
        const [f0, f1] = videoFramesOf(next + i, TIME).map((f) => f - first);
        const nf = f1 - f0;
        for (let by = 0; by < h; by++)
          for (let bx = 0; bx < w; bx++) {
            const luma = new Float64Array(TIME);
            let mean = 0;
            for (let ch = 0; ch < 3; ch++)
              for (let q = 0; q < 4; q++) {
                const y0 = by * SPACE + (q >> 1) * half;
                const x0 = bx * SPACE + (q & 1) * half;
                let s = 0;
                for (let f = f0; f < f1; f++) {
                  let sf = 0;
                  for (let yy = 0; yy < half; yy++) {
                    const row = ((ch * F + f) * H + y0 + yy) * W + x0;
                    for (let xx = 0; xx < half; xx++) sf += x[row + xx];
                  }
                  s += sf;
                  luma[f - f0] += sf / (3 * SPACE * SPACE);
                }
                const v = s / (nf * half * half);
                z[at(ch * 4 + q, i, by, bx)] = v / SCALE;
                mean += v / 12;
              }
            for (let k = 0; k < TIME; k++) z[at(12 + k, i, by, bx)] = (k < nf ? luma[k] - mean : 0) / SCALE;
          }
      }
      next += n;
      return fromArray(z, [16, n, h, w]);
    },
    close() {},
  };
}
