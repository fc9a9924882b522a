/**
 * Metrics of one video against its world story's truth (the story is regenerated from its seed by
 * the caller; nothing here stores truth by hand):
 *
 *   adherence   per shot, from the probes on `framesPerShot` frames spread over the shot (3 frames
 *               clear of each cut): background kind and colour (majority over the frames), and for
 *               each object the caption names, shape, colour and pattern (majority over the frames
 *               where an object was matched to it). In a recall shot the caption names only the
 *               shape, so only the shape counts there; colour and pattern go to recall.
 *               Matching in a frame: the n most massive detections for the n named objects,
 *               assigned by the permutation that agrees best (see matchObjects).
 *   recall      per recall shot: the returning object's colour and pattern (majority) equal the
 *               character's, i.e. its first appearance's; `consistent` compares with what the probes
 *               read in the first-appearance shot instead.
 *   cuts        a content detector on mean absolute frame differences (a local peak, above an
 *               absolute floor and `ratio` x the median of its neighbourhood), matched to the story's
 *               cuts within `tolerance` frames: precision and recall.
 *   stability   mean absolute frame-to-frame change inside shots (2 frames clear of each cut) over
 *               the same figure for the world's own render at the same size: 1 is the world's
 *               motion, flicker is well above 1.
 *   features    per shot, the mean of the probes' frame features and how much they vary (for the
 *               Frechet distance in fid.ts).
 */
import { shotAt } from '../data/world/render.js';
import type { ColourName, PatternName, ShapeName, Story } from '../data/world/types.js';
import { FEATURE_DIM, type FrameReading, frameFeatures, readFrames } from './probe.js';
import type { Probe } from './probe-model.js';

export interface ObjectCheck {
  character: number;
  /** Whether the caption names colour and pattern (false for the returning object of a recall shot). */
  named: boolean;
  shape: boolean;
  colour: boolean;
  pattern: boolean;
  /** What the probes read (majority), or null when nothing was matched in any frame. */
  seen: { shape: ShapeName; colour: ColourName; pattern: PatternName } | null;
}

export interface ShotScore {
  shot: number;
  frames: number[];
  caption: string;
  bgKind: boolean;
  bgColour: boolean;
  objects: ObjectCheck[];
  /** Fraction of this shot's checks (background, named attributes, recall) passed. */
  score: number;
}

export interface RecallCheck {
  shot: number;
  fromShot: number;
  character: number;
  /** Colour and pattern equal the character's (its first appearance's truth). */
  ok: boolean;
  colour: boolean;
  pattern: boolean;
  /** Colour and pattern equal what the probes read in the first-appearance shot. */
  consistent: boolean;
}

export interface CutScore {
  truth: number[];
  detected: number[];
  matched: number;
  precision: number;
  recall: number;
}

export interface StoryScore {
  seed: number;
  frames: number;
  shots: ShotScore[];
  recalls: RecallCheck[];
  cuts: CutScore;
  stability: { video: number; world: number; ratio: number };
  /** Per shot: `shotFeatures` of its sampled frames. */
  features: Float64Array[];
}

export interface MetricOptions {
  framesPerShot?: number;
  /** Frames kept clear of each cut when sampling (default 3). */
  margin?: number;
  cut?: CutDetectorOptions;
  /** Cut matching tolerance in frames (default 4). */
  tolerance?: number;
}

export interface CutDetectorOptions {
  /** Minimum mean absolute difference (0..255) for a cut (default 10). */
  floor?: number;
  /** A cut's difference must be this many times the median around it (default 3). */
  ratio?: number;
  /** Half-width of the neighbourhood and of the peak test (defaults 12 and 4 frames). */
  window?: number;
  peak?: number;
}

/** Frames sampled in a shot: `n` spread evenly over [start + margin, end - 1 - margin]. */
export function shotSampleFrames(start: number, end: number, n: number, margin = 3): number[] {
  let a = start + margin;
  let b = end - 1 - margin;
  if (b < a) {
    a = start;
    b = end - 1;
  }
  const k = Math.min(n, b - a + 1);
  if (k <= 1) return [Math.round((a + b) / 2)];
  return Array.from({ length: k }, (_, i) => Math.round(a + (i * (b - a)) / (k - 1)));
}

/** Mean absolute difference between consecutive frames (index t: frames t-1 and t; d[0] = 0). */
export function frameDifferences(frames: readonly Uint8Array[], stride = 2): Float64Array {
  const d = new Float64Array(frames.length);
  for (let t = 1; t < frames.length; t++) {
    const a = frames[t - 1];
    const b = frames[t];
    let s = 0;
    let n = 0;
    for (let i = 0; i < a.length; i += 3 * stride) {
      s += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
      n += 3;
    }
    d[t] = s / n;
  }
  return d;
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Content-detector cuts: first frames of new shots, from frame differences. */
export function detectCuts(d: Float64Array, o: CutDetectorOptions = {}): number[] {
  const floor = o.floor ?? 10;
  const ratio = o.ratio ?? 3;
  const win = o.window ?? 12;
  const peak = o.peak ?? 4;
  const cuts: number[] = [];
  for (let t = 1; t < d.length; t++) {
    if (d[t] < floor) continue;
    let isPeak = true;
    for (let u = Math.max(1, t - peak); u <= Math.min(d.length - 1, t + peak); u++)
      if (u !== t && (d[u] > d[t] || (d[u] === d[t] && u < t))) isPeak = false;
    if (!isPeak) continue;
    const around: number[] = [];
    for (let u = Math.max(1, t - win); u <= Math.min(d.length - 1, t + win); u++)
      if (Math.abs(u - t) > 1) around.push(d[u]);
    if (d[t] >= ratio * median(around)) cuts.push(t);
  }
  return cuts;
}

/** Greedy one-to-one matching of detected to true cuts within `tol` frames (closest pairs first). */
export function matchCuts(truth: readonly number[], detected: readonly number[], tol = 4): CutScore {
  const pairs: [number, number, number][] = [];
  truth.forEach((t, i) => {
    detected.forEach((d, j) => {
      if (Math.abs(t - d) <= tol) pairs.push([Math.abs(t - d), i, j]);
    });
  });
  pairs.sort((a, b) => a[0] - b[0]);
  const ti = new Set<number>();
  const dj = new Set<number>();
  for (const [, i, j] of pairs) {
    if (ti.has(i) || dj.has(j)) continue;
    ti.add(i);
    dj.add(j);
  }
  const matched = ti.size;
  return {
    truth: [...truth],
    detected: [...detected],
    matched,
    precision: detected.length ? matched / detected.length : 1,
    recall: truth.length ? matched / truth.length : 1,
  };
}

/** Mean in-shot frame difference, `margin` frames clear of each cut. */
export function inShotChange(d: Float64Array, cuts: readonly number[], margin = 2): number {
  let s = 0;
  let n = 0;
  for (let t = 1; t < d.length; t++) {
    if (cuts.some((c) => t > c - 1 - margin && t <= c + margin)) continue;
    s += d[t];
    n++;
  }
  return n ? s / n : 0;
}

function mode<T>(xs: readonly T[]): T | null {
  const counts = new Map<T, number>();
  let best: T | null = null;
  let bestN = 0;
  for (const x of xs) {
    const n = (counts.get(x) ?? 0) + 1;
    counts.set(x, n);
    if (n > bestN) {
      best = x;
      bestN = n;
    }
  }
  return best;
}

type Reading = FrameReading['objects'][number];

/**
 * In each frame, the detection standing for each of the n named objects: the n most massive
 * detections (a shot shows its named objects and nothing else, so they must be the salient ones),
 * assigned to the names by the permutation agreeing on the most named attributes (ties: mass
 * order). Only the salient detections compete, so a frame full of blobs cannot pick a lucky one:
 * noise scores at about chance.
 */
function matchObjects(
  r: FrameReading,
  named: readonly { shape: ShapeName; colour: ColourName; pattern: PatternName; full: boolean }[],
): (Reading | null)[] {
  const top = r.objects.slice(0, named.length);
  const agree = (o: Reading, n: (typeof named)[number]) =>
    (o.shape === n.shape ? 1 : 0) +
    (n.full ? (o.colour === n.colour ? 1 : 0) + (o.pattern === n.pattern ? 1 : 0) : 0);
  let best: (Reading | null)[] = named.map((_, i) => top[i] ?? null);
  let bestScore = -1;
  for (const perm of permutations(named.length)) {
    const pick = perm.map((j) => top[j] ?? null);
    const score = pick.reduce((s, o, i) => s + (o ? agree(o, named[i]) : 0), 0);
    if (score > bestScore) {
      bestScore = score;
      best = pick;
    }
  }
  return best;
}

function permutations(n: number): number[][] {
  if (n <= 1) return [[0]];
  const out: number[][] = [];
  for (const p of permutations(n - 1))
    for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), n - 1, ...p.slice(i)]);
  return out;
}

/**
 * Scores a video (frames of any size; the probes resample) against its world story. `world`
 * gives the world's own render of frame f at the video's size (for the stability reference).
 */
export function scoreVideo(
  probe: Probe,
  story: Story,
  video: readonly Uint8Array[],
  W: number,
  H: number,
  worldFrames: readonly Uint8Array[],
  opts: MetricOptions = {},
): StoryScore {
  if (video.length !== story.frames)
    throw new Error(
      `scoreVideo: the video has ${video.length} frames, story ${story.seed} has ${story.frames}`,
    );
  const per = opts.framesPerShot ?? 8;
  const sampled = story.shots.map((s) =>
    shotSampleFrames(s.startFrame, s.startFrame + s.frames, per, opts.margin),
  );
  const flat = sampled.flat();
  const readings = readFrames(
    probe,
    flat.map((f) => video[f]),
    W,
    H,
  );
  const byShot: FrameReading[][] = [];
  let at = 0;
  for (const fs of sampled) {
    byShot.push(readings.slice(at, at + fs.length));
    at += fs.length;
  }

  // adherence, and what each character looked like in each shot
  const seenIn = new Map<string, ObjectCheck['seen']>();
  const shots = story.shots.map((shot, k): ShotScore => {
    const rs = byShot[k];
    const bgKind = mode(rs.map((r) => r.kind)) === shot.background.kind;
    const bgColour = mode(rs.map((r) => r.colour)) === shot.background.colour;
    const chars = shot.objects.map((o) => story.characters[o.character]);
    const named = chars.map((c, i) => ({ ...c, full: !(i === 0 && shot.recall !== null) }));
    const matches = rs.map((r) => matchObjects(r, named));
    const objects = chars.map((c, i): ObjectCheck => {
      const m = matches.map((x) => x[i]).filter((x) => x !== null);
      const seen = m.length
        ? {
            shape: mode(m.map((x) => x.shape))!,
            colour: mode(m.map((x) => x.colour))!,
            pattern: mode(m.map((x) => x.pattern))!,
          }
        : null;
      seenIn.set(`${k}:${c.id}`, seen);
      return {
        character: c.id,
        named: !(i === 0 && shot.recall !== null),
        shape: seen?.shape === c.shape,
        colour: seen?.colour === c.colour,
        pattern: seen?.pattern === c.pattern,
        seen,
      };
    });
    return { shot: k, frames: sampled[k], caption: shot.caption, bgKind, bgColour, objects, score: 0 };
  });

  const recalls = story.recalls.map((rc): RecallCheck => {
    const c = story.characters[rc.character];
    const now = seenIn.get(`${rc.shot}:${rc.character}`) ?? null;
    const first = seenIn.get(`${rc.fromShot}:${rc.character}`) ?? null;
    const colour = now?.colour === c.colour;
    const pattern = now?.pattern === c.pattern;
    return {
      shot: rc.shot,
      fromShot: rc.fromShot,
      character: rc.character,
      ok: colour && pattern,
      colour,
      pattern,
      consistent:
        now !== null && first !== null && now.colour === first.colour && now.pattern === first.pattern,
    };
  });

  for (const s of shots) {
    const checks = [s.bgKind, s.bgColour];
    for (const o of s.objects) checks.push(o.shape, ...(o.named ? [o.colour, o.pattern] : []));
    const rc = recalls.find((r) => r.shot === s.shot);
    if (rc) checks.push(rc.colour, rc.pattern);
    s.score = checks.filter(Boolean).length / checks.length;
  }

  const d = frameDifferences(video);
  const cuts = matchCuts(story.cuts, detectCuts(d, opts.cut), opts.tolerance ?? 4);
  const dv = inShotChange(d, story.cuts);
  const dw = inShotChange(worldFrames === video ? d : frameDifferences(worldFrames), story.cuts);

  const features = byShot.map((rs) => shotFeatures(rs.map(frameFeatures)));

  return {
    seed: story.seed,
    frames: story.frames,
    shots,
    recalls,
    cuts,
    stability: { video: dv, world: dw, ratio: dv / Math.max(dw, 0.05) },
    features,
  };
}

/** Where each group of frame features starts (see probe.ts frameFeatures), for the temporal part. */
const GROUPS = [0, 4, 12, 20, 28, 32, 33, FEATURE_DIM];

/** Length of `shotFeatures`. */
export const SHOT_FEATURE_DIM = FEATURE_DIM + GROUPS.length - 1;

/**
 * A shot as one vector: the mean of its frames' features, then per feature group (background kind,
 * background colour, shape, colour, pattern, heat fraction, object count) the summed standard
 * deviation over the frames (how much the reading changes within the shot).
 */
export function shotFeatures(f: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(SHOT_FEATURE_DIM);
  for (let j = 0; j < FEATURE_DIM; j++) {
    let m = 0;
    for (const x of f) m += x[j];
    m /= f.length;
    let v = 0;
    for (const x of f) v += (x[j] - m) ** 2;
    out[j] = m;
    let g = 0;
    while (GROUPS[g + 1] <= j) g++;
    out[FEATURE_DIM + g] += Math.sqrt(v / f.length);
  }
  return out;
}

/** Shot index of each frame (for callers building edited videos). */
export function shotOfFrame(story: Story, f: number): number {
  return shotAt(story, f).index;
}

export interface Adherence {
  bgKind: number;
  bgColour: number;
  shape: number;
  colour: number;
  pattern: number;
}

/** Adherence fractions over shots (background) and named objects (shape; colour and pattern where named). */
export function adherenceOf(scores: readonly StoryScore[]): Adherence & { shots: number; objects: number } {
  let shots = 0;
  let kind = 0;
  let colour = 0;
  let objects = 0;
  let named = 0;
  let shape = 0;
  let oColour = 0;
  let pattern = 0;
  for (const s of scores)
    for (const sh of s.shots) {
      shots++;
      if (sh.bgKind) kind++;
      if (sh.bgColour) colour++;
      for (const o of sh.objects) {
        objects++;
        if (o.shape) shape++;
        if (!o.named) continue;
        named++;
        if (o.colour) oColour++;
        if (o.pattern) pattern++;
      }
    }
  const f = (n: number, d: number) => (d ? n / d : Number.NaN);
  return {
    shots,
    objects,
    bgKind: f(kind, shots),
    bgColour: f(colour, shots),
    shape: f(shape, objects),
    colour: f(oColour, named),
    pattern: f(pattern, named),
  };
}
