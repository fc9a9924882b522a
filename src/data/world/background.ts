/**
 * Backgrounds, drawn in world coordinates through the camera so a pan visibly slides them. Each
 * kind is separable (a per-row and a per-column term), so a frame costs one cheap pass, and the
 * stripes / checker edges are exactly box-filtered (anti-aliased, no shimmer in a pan).
 */
import type { Camera } from './motion.js';
import { BACKGROUND_RGB, lightOf, type RGB, shadeOf } from './palette.js';
import type { Background } from './types.js';

const STRIPE_PERIOD = 0.16;
const CHECK_CELL = 0.125;
export const HORIZON = 0.58;

/** Integral over [0, x] of the square wave that is 1 on the first half of each period. */
function squareIntegral(x: number, period: number): number {
  const k = Math.floor(x / period);
  return k * (period / 2) + Math.min(x - k * period, period / 2);
}

/** Fraction of [a, a + w] where the square wave is 1. */
function boxSquare(a: number, w: number, period: number): number {
  return (squareIntegral(a + w, period) - squareIntegral(a, period)) / w;
}

/** The two tones a background blends between: [a, b]. */
export function backgroundTonePair(bg: Background): [RGB, RGB] {
  const c = BACKGROUND_RGB[bg.colour];
  return bg.kind === 'gradient' ? [lightOf(c), c] : [c, shadeOf(c)];
}

/**
 * Fills out (H*W*3 floats, 0..255) with the background seen by cam. Pixel (px, py) looks at world
 * point (cx + (px + 0.5 - W/2) * s, cy + (py + 0.5 - H/2) * s), s = 1 / (zoom * H).
 */
export function renderBackground(bg: Background, cam: Camera, W: number, H: number, out: Float32Array): void {
  const s = 1 / (cam.zoom * H);
  const wx = (px: number) => cam.cx + (px + 0.5 - W / 2) * s;
  const wy = (py: number) => cam.cy + (py + 0.5 - H / 2) * s;
  const [a, b] = backgroundTonePair(bg);
  if (bg.kind === 'solid') {
    for (let i = 0; i < W * H; i++) {
      out[3 * i] = a[0];
      out[3 * i + 1] = a[1];
      out[3 * i + 2] = a[2];
    }
    return;
  }
  if (bg.kind === 'gradient') {
    for (let py = 0; py < H; py++) {
      const t = Math.min(1, Math.max(0, wy(py)));
      const r = a[0] + (b[0] - a[0]) * t;
      const g = a[1] + (b[1] - a[1]) * t;
      const bl = a[2] + (b[2] - a[2]) * t;
      for (let i = py * W; i < (py + 1) * W; i++) {
        out[3 * i] = r;
        out[3 * i + 1] = g;
        out[3 * i + 2] = bl;
      }
    }
    return;
  }
  // Column term: fraction of the pixel's footprint on the "b" half of the x square wave.
  const col = new Float32Array(W);
  const period = bg.kind === 'stripes' ? STRIPE_PERIOD : 2 * CHECK_CELL;
  for (let px = 0; px < W; px++) col[px] = boxSquare(wx(px) - s / 2, s, period);
  if (bg.kind === 'stripes') {
    for (let py = 0; py < H; py++)
      for (let px = 0, i = py * W; px < W; px++, i++) {
        const t = col[px];
        out[3 * i] = a[0] + (b[0] - a[0]) * t;
        out[3 * i + 1] = a[1] + (b[1] - a[1]) * t;
        out[3 * i + 2] = a[2] + (b[2] - a[2]) * t;
      }
    return;
  }
  // Checker floor below the horizon, a light wall above. A box filter of an XOR of two square
  // waves over a rectangle is cx(1-cy) + (1-cx)cy, since the indicator is separable per term.
  const wall = lightOf(BACKGROUND_RGB[bg.colour]);
  for (let py = 0; py < H; py++) {
    const y = wy(py);
    const floor = Math.min(1, Math.max(0, (y + s / 2 - HORIZON) / s));
    const cy = boxSquare(y - s / 2, s, 2 * CHECK_CELL);
    for (let px = 0, i = py * W; px < W; px++, i++) {
      const cx = col[px];
      const t = cx * (1 - cy) + (1 - cx) * cy;
      for (let ch = 0; ch < 3; ch++) {
        const fl = a[ch] + (b[ch] - a[ch]) * t;
        out[3 * i + ch] = wall[ch] + (fl - wall[ch]) * floor;
      }
    }
  }
}
