/**
 * Pixel helpers shared by the probes and the metrics: resampling, average pooling to the probe's
 * cell grid, square object crops, connected components of a heat map, and the world truth of
 * what is visible (tight boxes and visible fractions from the renderer's masks).
 */
import type { FrameTruth, ObjectTruth } from '../data/world/render.js';
import { shapeDistance } from '../data/world/shapes.js';
import { SHAPES, type ShapeName } from '../data/world/types.js';

export type Box = [number, number, number, number]; // x0, y0, x1, y1 inclusive, pixels

/** Along one axis of n pixels: the two source pixels and the weight of the second, at coordinate u (clamped). */
function tap(u: number, n: number): [number, number, number] {
  const f = Math.min(n - 1, Math.max(0, u));
  const i = Math.floor(f);
  return [i, Math.min(n - 1, i + 1), f - i];
}

/** Channel c of an RGB byte frame (width W) interpolated between the taps of x and y. */
function bilinear(
  rgb: Uint8Array,
  W: number,
  [x0, x1, tx]: number[],
  [y0, y1, ty]: number[],
  c: number,
): number {
  const a = rgb[(y0 * W + x0) * 3 + c] * (1 - tx) + rgb[(y0 * W + x1) * 3 + c] * tx;
  const b = rgb[(y1 * W + x0) * 3 + c] * (1 - tx) + rgb[(y1 * W + x1) * 3 + c] * tx;
  return a * (1 - ty) + b * ty;
}

/** Bilinear resample of an RGB byte frame to w x h (identity when the size matches). */
export function resizeRgb(rgb: Uint8Array, W: number, H: number, w: number, h: number): Uint8Array {
  if (W === w && H === h) return rgb;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const ty = tap((y + 0.5) * (H / h) - 0.5, H);
    for (let x = 0; x < w; x++) {
      const tx = tap((x + 0.5) * (W / w) - 0.5, W);
      for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = Math.round(bilinear(rgb, W, tx, ty, c));
    }
  }
  return out;
}

/** Average-pools an RGB byte frame by p into out (channel-first [3, H/p, W/p], values in [-1, 1]). */
export function poolFrame(rgb: Uint8Array, W: number, H: number, p: number, out: Float32Array, at = 0): void {
  const w = W / p;
  const h = H / p;
  const P = w * h;
  const inv = 1 / (p * p * 127.5);
  for (let cy = 0; cy < h; cy++)
    for (let cx = 0; cx < w; cx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let y = cy * p; y < cy * p + p; y++)
        for (let x = cx * p; x < cx * p + p; x++) {
          const j = (y * W + x) * 3;
          r += rgb[j];
          g += rgb[j + 1];
          b += rgb[j + 2];
        }
      const i = cy * w + cx;
      out[at + i] = r * inv - 1;
      out[at + P + i] = g * inv - 1;
      out[at + 2 * P + i] = b * inv - 1;
    }
}

/**
 * A square crop of side `side` pixels centred at (cx, cy), bilinearly resampled to S x S into out
 * (channel-first, [-1, 1]); pixels outside the frame repeat the edge.
 */
export function cropSquare(
  rgb: Uint8Array,
  W: number,
  H: number,
  cx: number,
  cy: number,
  side: number,
  S: number,
  out: Float32Array,
  at = 0,
): void {
  const step = side / S;
  const P = S * S;
  for (let y = 0; y < S; y++) {
    const ty = tap(cy - side / 2 + (y + 0.5) * step - 0.5, H);
    for (let x = 0; x < S; x++) {
      const tx = tap(cx - side / 2 + (x + 0.5) * step - 0.5, W);
      for (let c = 0; c < 3; c++) out[at + c * P + y * S + x] = bilinear(rgb, W, tx, ty, c) / 127.5 - 1;
    }
  }
}

/**
 * The silhouette channel of a crop (channel 3 of a [4, S, S] crop at `at`, channels 0..2 its RGB):
 * each pixel's distance to the nearest colour on the crop's outer ring (mostly background, since a
 * crop is 1.2x its object), scaled so 0.3 (about 38 of 255 per channel; the world keeps objects at
 * least 45 away from every background tone) maps to 1, and to [-1, 1]. It hands the object net
 * figure and ground directly, whatever the background's pattern.
 */
export function silhouette(out: Float32Array, at: number, S: number): void {
  const P = S * S;
  const ring: number[] = [];
  for (let i = 0; i < S; i++) ring.push(i, (S - 1) * S + i);
  for (let i = 1; i < S - 1; i++) ring.push(i * S, i * S + S - 1);
  const rr = Float32Array.from(ring, (q) => out[at + q]);
  const rg = Float32Array.from(ring, (q) => out[at + P + q]);
  const rb = Float32Array.from(ring, (q) => out[at + 2 * P + q]);
  for (let q = 0; q < P; q++) {
    const r = out[at + q];
    const g = out[at + P + q];
    const b = out[at + 2 * P + q];
    let best = Infinity;
    for (let k = 0; k < rr.length; k++) {
      const d = Math.abs(r - rr[k]) + Math.abs(g - rg[k]) + Math.abs(b - rb[k]);
      if (d < best) best = d;
    }
    out[at + 3 * P + q] = Math.min(1, best / 3 / 0.3) * 2 - 1;
  }
}

/** Channels of an object-net crop: RGB and the silhouette. */
export const CROP_CHANNELS = 4;

/** The square crop the object net reads for a box: centred, side = 1.2 x the longer edge + 2 px. */
export function cropOfBox(b: Box): { cx: number; cy: number; side: number } {
  const w = b[2] - b[0] + 1;
  const h = b[3] - b[1] + 1;
  return { cx: (b[0] + b[2] + 1) / 2, cy: (b[1] + b[3] + 1) / 2, side: 1.2 * Math.max(w, h) + 2 };
}

/** The cell-grid box (pixels) covering a pixel box: what a heat-map component of it would give. */
export function snapToCells(b: Box, p: number, W: number, H: number): Box {
  return [
    Math.floor(b[0] / p) * p,
    Math.floor(b[1] / p) * p,
    Math.min(W - 1, Math.floor(b[2] / p) * p + p - 1),
    Math.min(H - 1, Math.floor(b[3] / p) * p + p - 1),
  ];
}

export interface Component {
  /** Box in pixels (cells x pool). */
  box: Box;
  cells: number;
  /** Sum of the heat probabilities over its cells. */
  mass: number;
}

/**
 * 8-connected components of a w x h grid of object probabilities, largest mass first, by
 * hysteresis: seeded at cells above `threshold`, grown through neighbours above `low` (so thin
 * parts such as a star's arms, whose cells are only partly covered, stay inside the box).
 */
export function components(
  heat: Float32Array,
  w: number,
  h: number,
  pool: number,
  threshold = 0.5,
  low = threshold,
): Component[] {
  const seen = new Uint8Array(w * h);
  const out: Component[] = [];
  const stack: number[] = [];
  for (let s = 0; s < w * h; s++) {
    if (seen[s] || heat[s] <= threshold) continue;
    seen[s] = 1;
    stack.push(s);
    let x0 = w;
    let y0 = h;
    let x1 = -1;
    let y1 = -1;
    let cells = 0;
    let mass = 0;
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % w;
      const y = (i - x) / w;
      cells++;
      mass += heat[i];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          const j = yy * w + xx;
          if (!seen[j] && heat[j] > low) {
            seen[j] = 1;
            stack.push(j);
          }
        }
    }
    out.push({ box: [x0 * pool, y0 * pool, x1 * pool + pool - 1, y1 * pool + pool - 1], cells, mass });
  }
  return out.sort((a, b) => b.mass - a.mass);
}

/** Area of each shape in local units (radius 1), measured once from its distance function. */
export const SHAPE_AREA: Record<ShapeName, number> = (() => {
  const n = 200;
  const r: Partial<Record<ShapeName, number>> = {};
  for (const s of SHAPES) {
    let inside = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const x = -1.2 + (2.4 * (i + 0.5)) / n;
        const y = -1.2 + (2.4 * (j + 0.5)) / n;
        if (shapeDistance(s, x, y) < 0) inside++;
      }
    r[s] = (inside / (n * n)) * 2.4 * 2.4;
  }
  return r as Record<ShapeName, number>;
})();

export interface VisibleObject {
  truth: ObjectTruth;
  /** Index in the frame's objects (drawing order). */
  index: number;
  /** Tight box of the pixels at least half covered; null when none is. */
  box: Box | null;
  /** Pixels at least half covered, and that over the object's full area (occlusion and clipping). */
  pixels: number;
  fraction: number;
  /** Coverage-weighted centre. */
  cx: number;
  cy: number;
}

/** What of each object is visible, from a truth rendered with masks. */
export function visibleObjects(truth: FrameTruth, W: number): VisibleObject[] {
  return truth.objects.map((o, index) => {
    const m = o.mask;
    if (!m) throw new Error('visibleObjects: render the frame with { masks: true }');
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -1;
    let y1 = -1;
    let pixels = 0;
    let sx = 0;
    let sy = 0;
    let sw = 0;
    for (let i = 0; i < m.length; i++) {
      const v = m[i];
      if (v === 0) continue;
      const x = i % W;
      const y = (i - x) / W;
      sw += v;
      sx += v * x;
      sy += v * y;
      if (v < 128) continue;
      pixels++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    const full = SHAPE_AREA[o.shape] * o.size * o.size;
    return {
      truth: o,
      index,
      box: pixels > 0 ? [x0, y0, x1, y1] : null,
      pixels,
      fraction: full > 0 ? Math.min(1, pixels / full) : 0,
      cx: sw > 0 ? sx / sw + 0.5 : o.x,
      cy: sw > 0 ? sy / sw + 0.5 : o.y,
    };
  });
}

/** An object the probes are expected to read: at least `minPixels` visible and half of it in view. */
export function isScorable(v: VisibleObject, minPixels = 24, minFraction = 0.5): boolean {
  return v.box !== null && v.pixels >= minPixels && v.fraction >= minFraction;
}

/** Per-cell object coverage (0..1) on the pool grid, from the masks. */
export function coverageGrid(
  truth: FrameTruth,
  W: number,
  H: number,
  p: number,
  out: Float32Array,
  at = 0,
): void {
  const w = W / p;
  const h = H / p;
  for (let i = 0; i < w * h; i++) out[at + i] = 0;
  const inv = 1 / (255 * p * p);
  for (const o of truth.objects) {
    const m = o.mask!;
    for (let y = 0; y < H; y++) {
      const row = ((y / p) | 0) * w;
      for (let x = 0; x < W; x++) {
        const v = m[y * W + x];
        if (v) out[at + row + ((x / p) | 0)] += v * inv;
      }
    }
  }
  for (let i = 0; i < w * h; i++) out[at + i] = Math.min(1, out[at + i]);
}
