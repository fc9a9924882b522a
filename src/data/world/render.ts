/**
 * Frames and their ground truth. A frame is a pure function of (story, frame index, size):
 * background through the camera, then the shot's objects in order (later in front), each with
 * analytic anti-aliased edges. Output: RGB bytes, row-major, H*W*3.
 */
import { renderBackground } from './background.js';
import { type Camera, cameraAt, type Pose, poseAt, shotProgress } from './motion.js';
import { inkOf, OBJECT_RGB } from './palette.js';
import { patternDistance, SHAPE_BOUND, SHAPE_INNER, shapeDistance } from './shapes.js';
import type { Background, ColourName, PatternName, ShapeName, Shot, Story } from './types.js';

export interface ObjectTruth {
  character: number;
  shape: ShapeName;
  colour: ColourName;
  pattern: PatternName;
  /** Centre in pixels (may lie outside the frame). */
  x: number;
  y: number;
  /** Radius in pixels (the shape's local unit; every shape fits in 1.12 of it). */
  size: number;
  /** Radians. */
  angle: number;
  /** Pixel box [x0, y0, x1, y1] (inclusive) of the pixels the object may touch, clipped; null if off-frame. */
  bbox: [number, number, number, number] | null;
  /** Visible coverage (after occlusion by objects in front), 0..255, H*W; only when masks were asked for. */
  mask?: Uint8Array;
}

export interface FrameTruth {
  frame: number;
  shot: number;
  /** Seconds since the shot's first frame. */
  time: number;
  /** True on the first frame of every shot after the first (a hard cut lands here). */
  isCut: boolean;
  background: Background;
  camera: Camera;
  objects: ObjectTruth[];
}

export interface RenderOptions {
  /** Default: the story's size. Other aspects show more or less of the world sideways. */
  width?: number;
  height?: number;
  /** Compute per-object visible masks (costs a little time and H*W bytes per object). */
  masks?: boolean;
}

export function shotAt(story: Story, f: number): Shot {
  if (!Number.isInteger(f) || f < 0 || f >= story.frames)
    throw new Error(`frame ${f} is outside the story (0..${story.frames - 1})`);
  let lo = 0;
  let hi = story.shots.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (story.shots[mid].startFrame <= f) lo = mid;
    else hi = mid - 1;
  }
  return story.shots[lo];
}

/** Ground truth of frame f without rendering pixels (no masks). */
export function frameTruth(story: Story, f: number, width = story.width, height = story.height): FrameTruth {
  const shot = shotAt(story, f);
  const u = shotProgress(shot, f);
  const cam = cameraAt(shot.framing, shot.objects[0].motion, story.aspect, u);
  const s = 1 / (cam.zoom * height);
  const objects = shot.objects.map((o): ObjectTruth => {
    const c = story.characters[o.character];
    const p: Pose = poseAt(o.motion, u);
    const x = (p.x - cam.cx) / s + width / 2;
    const y = (p.y - cam.cy) / s + height / 2;
    const size = (c.radius * p.scale) / s;
    const b = SHAPE_BOUND * size + 1;
    const box: [number, number, number, number] = [
      Math.max(0, Math.floor(x - b)),
      Math.max(0, Math.floor(y - b)),
      Math.min(width - 1, Math.ceil(x + b)),
      Math.min(height - 1, Math.ceil(y + b)),
    ];
    const bbox = box[0] <= box[2] && box[1] <= box[3] ? box : null;
    return {
      character: c.id,
      shape: c.shape,
      colour: c.colour,
      pattern: c.pattern,
      x,
      y,
      size,
      angle: c.angle + p.angle,
      bbox,
    };
  });
  return {
    frame: f,
    shot: shot.index,
    time: (f - shot.startFrame) / story.fps,
    isCut: f > 0 && f === shot.startFrame,
    background: shot.background,
    camera: cam,
    objects,
  };
}

/** A renderer that reuses its scratch buffer across frames (for whole-story loops). */
export function makeRenderer(story: Story, opts: RenderOptions = {}) {
  const W = opts.width ?? story.width;
  const H = opts.height ?? story.height;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 1 || H < 1)
    throw new Error(`render size must be positive integers, got ${W}x${H}`);
  return {
    width: W,
    height: H,
    /** Renders frame f into out (a fresh buffer when omitted). */
    render(f: number, out: Uint8Array = new Uint8Array(W * H * 3)): { rgb: Uint8Array; truth: FrameTruth } {
      if (out.length !== W * H * 3) throw new Error(`render: out has ${out.length} bytes, need ${W * H * 3}`);
      const truth = frameTruth(story, f, W, H);
      renderBackground(truth.background, truth.camera, W, H, out);
      const masks: Float32Array[] = [];
      for (const o of truth.objects) {
        const m = opts.masks ? new Float32Array(W * H) : null;
        if (o.bbox) drawObject(o, W, out, m, masks);
        if (m) masks.push(m);
      }
      if (opts.masks)
        truth.objects.forEach((o, k) => {
          const m8 = new Uint8Array(W * H);
          const m = masks[k];
          for (let i = 0; i < m8.length; i++) m8[i] = m[i] * 255 + 0.5;
          o.mask = m8;
        });
      return { rgb: out, truth };
    },
  };
}

export function renderFrame(
  story: Story,
  f: number,
  opts: RenderOptions = {},
): { rgb: Uint8Array; truth: FrameTruth } {
  return makeRenderer(story, opts).render(f);
}

/** Composites one object over out; its coverage goes to mask and occludes the masks behind it. */
function drawObject(
  o: ObjectTruth,
  W: number,
  out: Uint8Array,
  mask: Float32Array | null,
  behind: Float32Array[],
): void {
  const base = OBJECT_RGB[o.colour];
  const ink = inkOf(base);
  const R = o.size;
  if (R <= 0) return;
  const inv = 1 / R;
  const cs = Math.cos(o.angle);
  const sn = Math.sin(o.angle);
  const plain = o.pattern === 'plain';
  // Squared radii in local units, with a pixel of margin each way for the anti-aliased edge.
  const outer2 = (SHAPE_BOUND + inv) ** 2;
  const innerR = Math.max(0, SHAPE_INNER[o.shape] - inv);
  const inner2 = innerR * innerR;
  const [x0, y0, x1, y1] = o.bbox!;
  for (let py = y0; py <= y1; py++) {
    const dy = (py + 0.5 - o.y) * inv;
    for (let px = x0; px <= x1; px++) {
      const dx = (px + 0.5 - o.x) * inv;
      // Rotate the pixel into the object frame (by -angle).
      const lx = cs * dx + sn * dy;
      const ly = -sn * dx + cs * dy;
      // Cheap tests first: well outside the bounding disc, or well inside the inscribed one.
      const d2 = dx * dx + dy * dy;
      if (d2 > outer2) continue;
      let a = 1;
      if (d2 > inner2) {
        a = 0.5 - shapeDistance(o.shape, lx, ly) * R;
        if (a <= 0) continue;
        if (a > 1) a = 1;
      }
      let r = base[0];
      let g = base[1];
      let b = base[2];
      if (!plain) {
        let t = 0.5 - patternDistance(o.pattern, lx, ly) * R;
        t = t < 0 ? 0 : Math.min(t, 1);
        r += (ink[0] - r) * t;
        g += (ink[1] - g) * t;
        b += (ink[2] - b) * t;
      }
      const i = py * W + px;
      const j = 3 * i;
      // + 0.5 and the byte store's truncation round to nearest.
      out[j] = out[j] + (r - out[j]) * a + 0.5;
      out[j + 1] = out[j + 1] + (g - out[j + 1]) * a + 0.5;
      out[j + 2] = out[j + 2] + (b - out[j + 2]) * a + 0.5;
      if (mask) {
        mask[i] = a;
        for (const m of behind) m[i] *= 1 - a;
      }
    }
  }
}
