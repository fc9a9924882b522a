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

/** Writes the rounded colour a + (b - a) * t at byte offset j. */
function put(out: Uint8Array, j: number, a: RGB, b: RGB, t: number): void {
  out[j] = a[0] + (b[0] - a[0]) * t + 0.5;
  out[j + 1] = a[1] + (b[1] - a[1]) * t + 0.5;
  out[j + 2] = a[2] + (b[2] - a[2]) * t + 0.5;
}

/** Copies row `from` over row `to` (rows of W RGB pixels). */
function copyRow(out: Uint8Array, W: number, from: number, to: number): void {
  if (from !== to) out.copyWithin(to * W * 3, from * W * 3, (from + 1) * W * 3);
}

/**
 * Fills out (H*W*3 RGB bytes) with the background seen by cam. Pixel (px, py) looks at world
 * point (cx + (px + 0.5 - W/2) * s, cy + (py + 0.5 - H/2) * s), s = 1 / (zoom * H). Rows that
 * repeat are copied (memcpy) rather than recomputed: that is most of a frame's pixels.
 */
export function renderBackground(bg: Background, cam: Camera, W: number, H: number, out: Uint8Array): void {
  const s = 1 / (cam.zoom * H);
  const wx = (px: number) => cam.cx + (px + 0.5 - W / 2) * s;
  const wy = (py: number) => cam.cy + (py + 0.5 - H / 2) * s;
  const [a, b] = backgroundTonePair(bg);
  if (bg.kind === 'solid' || bg.kind === 'gradient') {
    for (let py = 0; py < H; py++) {
      const t = bg.kind === 'solid' ? 0 : Math.min(1, Math.max(0, wy(py)));
      if (py > 0 && (bg.kind === 'solid' || t === Math.min(1, Math.max(0, wy(py - 1))))) {
        copyRow(out, W, py - 1, py);
        continue;
      }
      put(out, py * W * 3, a, b, t);
      // Double the filled span until the row is full.
      for (let n = 1; n < W; n *= 2)
        out.copyWithin(py * W * 3 + n * 3, py * W * 3, py * W * 3 + Math.min(n, W - n) * 3);
    }
    return;
  }
  // Column term: fraction of the pixel's footprint on the "b" half of the x square wave.
  const col = new Float32Array(W);
  const period = bg.kind === 'stripes' ? STRIPE_PERIOD : 2 * CHECK_CELL;
  for (let px = 0; px < W; px++) col[px] = boxSquare(wx(px) - s / 2, s, period);
  if (bg.kind === 'stripes') {
    for (let px = 0; px < W; px++) put(out, 3 * px, a, b, col[px]);
    for (let py = 1; py < H; py++) copyRow(out, W, 0, py);
    return;
  }
  // Checker floor below the horizon, a light wall above. A box filter of an XOR of two square
  // waves over a rectangle is cx(1-cy) + (1-cx)cy, since the indicator is separable per term.
  // Rows fully on the wall, or fully inside one row of cells, repeat: compute each kind once.
  const wall = lightOf(BACKGROUND_RGB[bg.colour]);
  const seen = new Map<string, number>();
  for (let py = 0; py < H; py++) {
    const y = wy(py);
    const floor = Math.min(1, Math.max(0, (y + s / 2 - HORIZON) / s));
    const cy = boxSquare(y - s / 2, s, 2 * CHECK_CELL);
    const key = floor === 0 ? 'wall' : floor === 1 && (cy === 0 || cy === 1) ? `cells${cy}` : null;
    const same = key === null ? undefined : seen.get(key);
    if (same !== undefined) {
      copyRow(out, W, same, py);
      continue;
    }
    if (key !== null) seen.set(key, py);
    for (let px = 0, j = py * W * 3; px < W; px++, j += 3) {
      const cx = col[px];
      const t = cx * (1 - cy) + (1 - cx) * cy;
      for (let ch = 0; ch < 3; ch++) {
        const fl = a[ch] + (b[ch] - a[ch]) * t;
        out[j + ch] = wall[ch] + (fl - wall[ch]) * floor + 0.5;
      }
    }
  }
}
