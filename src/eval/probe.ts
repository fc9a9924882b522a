/**
 * Reading frames with the probes: background kind and colour, the objects (box from the heat map's
 * connected components, then shape, colour and pattern from a crop), and a feature vector per frame
 * for the distribution distance.
 */
import {
  BACKGROUND_COLOURS,
  BACKGROUND_KINDS,
  type BackgroundColourName,
  type BackgroundKind,
  COLOURS,
  type ColourName,
  PATTERNS,
  type PatternName,
  SHAPES,
  type ShapeName,
} from '../data/world/types.js';
import { fromArray, noGrad, tidy } from '../tensor/tensor.js';
import {
  type Box,
  CROP_CHANNELS,
  components,
  cropOfBox,
  cropSquare,
  poolFrame,
  resizeRgb,
  silhouette,
} from './frames.js';
import { BG_HEAD, OBJ_HEAD, objectForward, type Probe, sceneForward } from './probe-model.js';

/**
 * Heat-map component thresholds: a component starts at a cell above SEED and grows through cells
 * above LOW. Chosen on 30 validation-split stories (seed 0.5 / 0.3 / 0.2 x low 0.2 / 0.1), never on
 * the test split.
 */
export const SEED = 0.3;
export const LOW = 0.1;

export interface ObjectReading {
  box: Box;
  /** Heat mass of its component (bigger = more confidently an object). */
  mass: number;
  shape: ShapeName;
  colour: ColourName;
  pattern: PatternName;
  /** Softmax probabilities: shape (8), colour (8), pattern (4). */
  probs: Float32Array;
}

export interface FrameReading {
  kind: BackgroundKind;
  colour: BackgroundColourName;
  /** Softmax probabilities: kind (4), colour (8). */
  bgProbs: Float32Array;
  /** Object probability per heat-map cell (h x w). */
  heat: Float32Array;
  objects: ObjectReading[];
}

export interface ReadOptions {
  /** Objects kept per frame, largest heat mass first (default 3). */
  maxObjects?: number;
  /** Components with fewer cells are dropped (default 2). */
  minCells?: number;
  /** Components start at cells above `seed` and grow through cells above `low` (defaults SEED, LOW). */
  seed?: number;
  low?: number;
  /** Frames per scene-net batch (default 32). */
  batch?: number;
}

function softmaxInto(
  src: Float32Array | Float64Array,
  at: number,
  n: number,
  out: Float32Array,
  to: number,
): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, src[at + i]);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(src[at + i] - m);
    out[to + i] = e;
    s += e;
  }
  let best = 0;
  for (let i = 0; i < n; i++) {
    out[to + i] /= s;
    if (out[to + i] > out[to + best]) best = i;
  }
  return best;
}

/** Reads frames (RGB bytes, W x H; resampled to the probe's size when different). */
export function readFrames(
  probe: Probe,
  frames: readonly Uint8Array[],
  W: number,
  H: number,
  opts: ReadOptions = {},
): FrameReading[] {
  const c = probe.config;
  const { pool, width: PW, height: PH, crop: S } = c;
  const w = PW / pool;
  const h = PH / pool;
  const batch = opts.batch ?? 32;
  const maxObjects = opts.maxObjects ?? 3;
  const minCells = opts.minCells ?? 2;
  const out: FrameReading[] = [];
  for (let a = 0; a < frames.length; a += batch) {
    const chunk = frames.slice(a, a + batch).map((f) => resizeRgb(f, W, H, PW, PH));
    const B = chunk.length;
    const x = new Float32Array(B * 3 * w * h);
    chunk.forEach((f, i) => poolFrame(f, PW, PH, pool, x, i * 3 * w * h));
    const { heat, bg } = noGrad(() =>
      tidy(() => {
        const r = sceneForward(probe.params.scene, fromArray(x, [B, 3, h, w]));
        return { heat: r.heat.dataSync() as Float32Array, bg: r.bg.dataSync() as Float32Array };
      }),
    );
    const nBg = BG_HEAD.kind + BG_HEAD.colour;
    const found: { frame: number; box: Box; mass: number }[] = [];
    const readings = chunk.map((_, i): FrameReading => {
      const hp = new Float32Array(w * h);
      for (let j = 0; j < w * h; j++) hp[j] = 1 / (1 + Math.exp(-heat[i * w * h + j]));
      const bgProbs = new Float32Array(nBg);
      const k = softmaxInto(bg, i * nBg, BG_HEAD.kind, bgProbs, 0);
      const col = softmaxInto(bg, i * nBg + BG_HEAD.kind, BG_HEAD.colour, bgProbs, BG_HEAD.kind);
      for (const comp of components(hp, w, h, pool, opts.seed ?? SEED, opts.low ?? LOW)
        .filter((q) => q.cells >= minCells)
        .slice(0, maxObjects))
        found.push({ frame: i, box: comp.box, mass: comp.mass });
      return { kind: BACKGROUND_KINDS[k], colour: BACKGROUND_COLOURS[col], bgProbs, heat: hp, objects: [] };
    });
    if (found.length) {
      const n = CROP_CHANNELS * S * S;
      const crops = new Float32Array(found.length * n);
      found.forEach((f, j) => {
        const q = cropOfBox(f.box);
        cropSquare(chunk[f.frame], PW, PH, q.cx, q.cy, q.side, S, crops, j * n);
        silhouette(crops, j * n, S);
      });
      const logits = noGrad(() =>
        tidy(() =>
          objectForward(
            probe.params.object,
            fromArray(crops, [found.length, CROP_CHANNELS, S, S]),
          ).dataSync(),
        ),
      ) as Float32Array;
      const nObj = OBJ_HEAD.shape + OBJ_HEAD.colour + OBJ_HEAD.pattern;
      found.forEach((f, j) => {
        const probs = new Float32Array(nObj);
        const s = softmaxInto(logits, j * nObj, OBJ_HEAD.shape, probs, 0);
        const col = softmaxInto(logits, j * nObj + OBJ_HEAD.shape, OBJ_HEAD.colour, probs, OBJ_HEAD.shape);
        const pat = softmaxInto(
          logits,
          j * nObj + OBJ_HEAD.shape + OBJ_HEAD.colour,
          OBJ_HEAD.pattern,
          probs,
          OBJ_HEAD.shape + OBJ_HEAD.colour,
        );
        readings[f.frame].objects.push({
          box: f.box,
          mass: f.mass,
          shape: SHAPES[s],
          colour: COLOURS[col],
          pattern: PATTERNS[pat],
          probs,
        });
      });
    }
    out.push(...readings);
  }
  return out;
}

/** Length of `frameFeatures`. */
export const FEATURE_DIM =
  BG_HEAD.kind + BG_HEAD.colour + OBJ_HEAD.shape + OBJ_HEAD.colour + OBJ_HEAD.pattern + 2;

/**
 * A frame's feature vector in the probes' space: background probabilities (12), the most massive
 * object's attribute probabilities (20; zeros when none), the fraction of cells called object and
 * the number of objects found / 3.
 */
export function frameFeatures(r: FrameReading): Float64Array {
  const f = new Float64Array(FEATURE_DIM);
  f.set(r.bgProbs, 0);
  const o = r.objects[0];
  if (o) f.set(o.probs, r.bgProbs.length);
  let on = 0;
  for (const v of r.heat) if (v > 0.5) on++;
  f[FEATURE_DIM - 2] = on / r.heat.length;
  f[FEATURE_DIM - 1] = r.objects.length / 3;
  return f;
}
