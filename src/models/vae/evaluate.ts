/**
 * Held-out evaluation: clips of test-split world stories at full size, encoded and decoded chunk by
 * chunk (the streaming path the pipeline uses), reconstruction quantised to bytes, PSNR per clip.
 */

import { sliceAxis } from '../../tensor/ops.js';
import { fromArray, noGrad, tidy } from '../../tensor/tensor.js';
import { worldClip } from './data.js';
import { disposeStreamState, newStreamState } from './layers.js';
import { psnr8, toBytes } from './loss.js';
import { decode, encode, type VideoVAE } from './vae.js';

export interface EvalOptions {
  clips: number;
  frames: number;
  width: number;
  height: number;
  /** Latent frames per decode chunk (encode chunks are 4x that, after the first frame). */
  chunk: number;
}

export interface ClipScore {
  story: number;
  start: number;
  psnr: number;
}

/** Reconstructs `x` [1, 3, F, H, W] chunk by chunk; returns the video as [3, F, H, W] values. */
export function reconstructStreaming(
  vae: VideoVAE,
  data: Float32Array,
  F: number,
  H: number,
  W: number,
  chunk: number,
): Float32Array {
  return noGrad(() => {
    const x = fromArray(data, [1, 3, F, H, W]);
    const out = new Float32Array(data.length);
    let es = newStreamState();
    let ds = newStreamState();
    let at = 0; // input frame
    let written = 0; // output frames
    while (at < F) {
      const n = at === 0 ? 1 + 4 * (chunk - 1) : 4 * chunk;
      const end = Math.min(F, at + n);
      const r = tidy(() => {
        const e = encode(vae, sliceAxis(x, 2, at, end), es);
        const d = decode(vae, e.mean, ds);
        return { y: d.video, es: e.state!, ds: d.state! };
      });
      disposeStreamState(es);
      disposeStreamState(ds);
      es = r.es;
      ds = r.ds;
      const y = r.y.dataSync();
      const f = r.y.shape[2];
      const plane = H * W;
      for (let c = 0; c < 3; c++)
        out.set(y.subarray(c * f * plane, (c + 1) * f * plane), (c * F + written) * plane);
      r.y.dispose();
      written += f;
      at = end;
    }
    x.dispose();
    disposeStreamState(es);
    disposeStreamState(ds);
    return out;
  });
}

export function evaluateVae(
  vae: VideoVAE,
  o: EvalOptions,
  log: (s: string) => void = console.log,
): { mean: number; clips: ClipScore[] } {
  const clips: ClipScore[] = [];
  for (let i = 0; i < o.clips; i++) {
    const start = 37 * i;
    const { data } = worldClip('test', i, start, { frames: o.frames, width: o.width, height: o.height });
    const y = reconstructStreaming(vae, data, o.frames, o.height, o.width, o.chunk);
    const p = psnr8(toBytes(data), toBytes(y));
    clips.push({ story: i, start, psnr: p });
    log(
      `clip ${i + 1}/${o.clips} (test story ${i}, frames ${start}..${start + o.frames - 1}): PSNR ${p.toFixed(2)} dB`,
    );
  }
  // Mean of per-clip PSNR (each clip has the same number of pixels).
  const mean = clips.reduce((s, c) => s + c.psnr, 0) / clips.length;
  return { mean, clips };
}
