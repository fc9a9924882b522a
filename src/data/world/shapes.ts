/**
 * Signed distance functions of the shapes and surface patterns, in the object's local unit frame
 * (radius 1 = the character's radius, y down). Anti-aliasing uses them directly: coverage of a
 * pixel = clamp(0.5 - distance_in_pixels, 0, 1), an analytic box-filter estimate of the edge.
 */
import type { PatternName, ShapeName } from './types.js';

/** Signed distance to a closed polygon (Inigo Quilez's sdPolygon); verts = [x0, y0, x1, y1, ...]. */
function sdPolygon(v: Float64Array, px: number, py: number): number {
  const n = v.length / 2;
  let d = (px - v[0]) ** 2 + (py - v[1]) ** 2;
  let s = 1;
  for (let i = 0, j = n - 1; i < n; j = i, i++) {
    const xi = v[2 * i];
    const yi = v[2 * i + 1];
    const ex = v[2 * j] - xi;
    const ey = v[2 * j + 1] - yi;
    const wx = px - xi;
    const wy = py - yi;
    let t = (wx * ex + wy * ey) / (ex * ex + ey * ey);
    t = t < 0 ? 0 : Math.min(t, 1);
    const bx = wx - ex * t;
    const by = wy - ey * t;
    const dd = bx * bx + by * by;
    if (dd < d) d = dd;
    const c1 = py >= yi;
    const c2 = py < v[2 * j + 1];
    const c3 = ex * wy > ey * wx;
    if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) s = -s;
  }
  return s * Math.sqrt(d);
}

function regular(n: number, radius: number, phase: number, inner = 0): Float64Array {
  const k = inner > 0 ? 2 * n : n;
  const v = new Float64Array(2 * k);
  for (let i = 0; i < k; i++) {
    const r = inner > 0 && i % 2 === 1 ? inner : radius;
    const a = phase + (2 * Math.PI * i) / k;
    v[2 * i] = r * Math.cos(a);
    v[2 * i + 1] = r * Math.sin(a);
  }
  return v;
}

const UP = -Math.PI / 2; // y points down, so "up" is angle -90 degrees
const TRIANGLE = regular(3, 1.05, UP);
const STAR = regular(5, 1.05, UP, 0.45);
const HEXAGON = regular(6, 0.92, 0);
const DIAMOND = new Float64Array([0, -1.05, 0.72, 0, 0, 1.05, -0.72, 0]);
const CROSS = (() => {
  const a = 0.3; // half-width of an arm
  const b = 0.92; // arm length
  return new Float64Array([
    -a,
    -b,
    a,
    -b,
    a,
    -a,
    b,
    -a,
    b,
    a,
    a,
    a,
    a,
    b,
    -a,
    b,
    -a,
    a,
    -b,
    a,
    -b,
    -a,
    -a,
    -a,
  ]);
})();
// A heart: a square turned 45 degrees plus two discs on its upper sides.
const HEART_SQ = new Float64Array([0, 0.82, -0.68, 0.14, 0, -0.54, 0.68, 0.14]);
const HEART_R = 0.481;
const HEART_C = [-0.34, -0.2, 0.34, -0.2];

/** Signed distance in local units (negative inside). */
export function shapeDistance(shape: ShapeName, x: number, y: number): number {
  switch (shape) {
    case 'circle':
      return Math.sqrt(x * x + y * y) - 0.92;
    case 'square': {
      const qx = Math.abs(x) - 0.78;
      const qy = Math.abs(y) - 0.78;
      const ox = Math.max(qx, 0);
      const oy = Math.max(qy, 0);
      return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0);
    }
    case 'triangle':
      return sdPolygon(TRIANGLE, x, y);
    case 'star':
      return sdPolygon(STAR, x, y);
    case 'diamond':
      return sdPolygon(DIAMOND, x, y);
    case 'hexagon':
      return sdPolygon(HEXAGON, x, y);
    case 'cross':
      return sdPolygon(CROSS, x, y);
    case 'heart': {
      const c1 = Math.sqrt((x - HEART_C[0]) ** 2 + (y - HEART_C[1]) ** 2) - HEART_R;
      const c2 = Math.sqrt((x - HEART_C[2]) ** 2 + (y - HEART_C[3]) ** 2) - HEART_R;
      return Math.min(sdPolygon(HEART_SQ, x, y), c1, c2);
    }
  }
}

/** Every shape fits in this radius (local units): bounds the pixels a renderer must visit. */
export const SHAPE_BOUND = 1.12;

/** A disc of this radius (local units) lies inside the shape: pixels there skip the SDF. */
export const SHAPE_INNER: Record<ShapeName, number> = {
  circle: 0.92,
  square: 0.78,
  triangle: 0.52,
  star: 0.3,
  diamond: 0.59,
  hexagon: 0.79,
  heart: 0.35,
  cross: 0.3,
};

const DOT_STEP = 0.5;
const DOT_R = 0.14;
const STRIPE_PERIOD = 0.46;
const CHECK_CELL = 0.42;

/**
 * Signed distance to the pattern's marks (negative on a mark), local units; +Infinity for plain.
 * Patterns live in the object frame, so they move, turn and scale with the object (no swimming).
 */
export function patternDistance(p: PatternName, x: number, y: number): number {
  switch (p) {
    case 'plain':
      return Number.POSITIVE_INFINITY;
    case 'dotted': {
      const qx = x - DOT_STEP * Math.round(x / DOT_STEP);
      const qy = y - DOT_STEP * Math.round(y / DOT_STEP);
      return Math.sqrt(qx * qx + qy * qy) - DOT_R;
    }
    case 'striped': {
      // Diagonal bands of half the period; s is the coordinate across the bands.
      const s = (x + y) * Math.SQRT1_2;
      const f = s / STRIPE_PERIOD - Math.floor(s / STRIPE_PERIOD); // [0, 1)
      return (Math.abs(f - 0.5) - 0.25) * STRIPE_PERIOD;
    }
    case 'checkered': {
      const fx = x / CHECK_CELL - Math.floor(x / CHECK_CELL);
      const fy = y / CHECK_CELL - Math.floor(y / CHECK_CELL);
      const odd = (Math.floor(x / CHECK_CELL) + Math.floor(y / CHECK_CELL)) & 1;
      // Distance to the nearest cell border, signed by the cell's parity.
      const d = Math.min(fx, 1 - fx, fy, 1 - fy) * CHECK_CELL;
      return odd ? -d : d;
    }
  }
}
