/**
 * RGB byte frames -> float32 in [-1, 1] for training, as an array or a Tensor: v / 127.5 - 1
 * (0 -> -1, 255 -> 1), and back.
 * Layouts: 'FCHW' = [F, 3, H, W] (frame-major, for per-frame work), 'CFHW' = [3, F, H, W]
 * (channel-first video, what a 3D-conv VAE takes).
 */
import { fromArray, type Tensor } from './tensor.js';

export type FrameLayout = 'FCHW' | 'CFHW';

export function framesToFloat32(
  frames: readonly Uint8Array[],
  width: number,
  height: number,
  layout: FrameLayout = 'FCHW',
): Float32Array {
  const F = frames.length;
  const P = width * height;
  const out = new Float32Array(F * 3 * P);
  for (let f = 0; f < F; f++) {
    const rgb = frames[f];
    if (rgb.length !== P * 3)
      throw new Error(`frame ${f} has ${rgb.length} bytes, expected ${width}x${height}x3 = ${P * 3}`);
    for (let c = 0; c < 3; c++) {
      // FCHW: ((f * 3 + c) * P); CFHW: ((c * F + f) * P)
      const o = layout === 'FCHW' ? (f * 3 + c) * P : (c * F + f) * P;
      for (let i = 0; i < P; i++) out[o + i] = rgb[3 * i + c] / 127.5 - 1;
    }
  }
  return out;
}

/** `framesToFloat32` as a Tensor: shape [F, 3, H, W] for 'FCHW', [3, F, H, W] for 'CFHW'. */
export function framesToTensor(...args: Parameters<typeof framesToFloat32>): Tensor {
  const [frames, width, height, layout = 'FCHW'] = args;
  const F = frames.length;
  const shape = layout === 'FCHW' ? [F, 3, height, width] : [3, F, height, width];
  return fromArray(framesToFloat32(...args), shape);
}

/** The inverse for one frame of an 'FCHW' array: values are clamped to [-1, 1] and rounded. */
export function float32ToFrame(data: Float32Array, f: number, width: number, height: number): Uint8Array {
  const P = width * height;
  const out = new Uint8Array(P * 3);
  for (let c = 0; c < 3; c++) {
    const o = (f * 3 + c) * P;
    for (let i = 0; i < P; i++) {
      const v = (Math.min(1, Math.max(-1, data[o + i])) + 1) * 127.5;
      out[3 * i + c] = Math.round(v);
    }
  }
  return out;
}
