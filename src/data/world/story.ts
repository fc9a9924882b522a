/**
 * Story generation: seed -> cast, shots (lengths, backgrounds, framings, motions), recalls and
 * captions. Pure and cheap (no pixels); rendering is in render.ts.
 */
import { globalCaption, shotCaption } from './caption.js';
import { meanPosition } from './motion.js';
import { BACKGROUND_RGB, colourDistance, lightOf, OBJECT_RGB, type RGB, shadeOf } from './palette.js';
import { makeRand, type Rand } from './rand.js';
import { splitOf } from './splits.js';
import type {
  Background,
  BackgroundColourName,
  Character,
  Framing,
  FramingKind,
  Motion,
  Shot,
  ShotObject,
  Story,
  Vec2,
} from './types.js';
import { BACKGROUND_COLOURS, BACKGROUND_KINDS, COLOURS, DIRECTIONS, PATTERNS, SHAPES } from './types.js';

export interface StoryOptions {
  seed: number;
  /** Default: drawn from the seed, 3..75 s. */
  seconds?: number;
  fps?: number;
  width?: number;
  height?: number;
  /** 1..12; default: drawn from the seed, more for longer stories. */
  shots?: number;
  /** Default true. */
  globalCaption?: boolean;
}

export const MAX_SHOTS = 12;
/** A grow/shrink reaches 1.4x; placements keep this much radius inside the world. */
const MAX_SCALE = 1.4;

/** Frames of a story: the MoGA convention, seconds * fps + 1 (60 s at 24 fps = 1441). */
export function frameCount(seconds: number, fps: number): number {
  return Math.round(seconds * fps) + 1;
}

function checkInt(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw new Error(`world: ${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  return v;
}

export function generateStory(opts: StoryOptions): Story {
  const seed = opts.seed;
  const split = splitOf(seed);
  const r = makeRand(seed, 1);
  const fps = checkInt('fps', opts.fps ?? 24, 1, 240);
  const width = checkInt('width', opts.width ?? 224, 8, 8192);
  const height = checkInt('height', opts.height ?? 128, 8, 8192);
  const seconds = opts.seconds ?? r.int(3, 75);
  if (!(seconds > 0 && seconds <= 3600))
    throw new Error(`world: seconds must be in (0, 3600], got ${seconds}`);
  const frames = frameCount(seconds, fps);
  const aspect = width / height;

  let nShots: number;
  if (opts.shots !== undefined) nShots = checkInt('shots', opts.shots, 1, Math.min(MAX_SHOTS, frames));
  else {
    const hi = Math.max(1, Math.min(MAX_SHOTS, Math.floor(seconds / 1.5), frames));
    const lo = Math.min(hi, Math.max(1, Math.ceil(seconds / 12)));
    nShots = r.int(lo, hi);
  }
  const starts = shotStarts(r, nShots, frames);

  const shapes = r.shuffle(SHAPES);
  const characters: Character[] = [];
  const newCharacter = (shot: number): number => {
    const id = characters.length;
    characters.push({
      id,
      shape: shapes[id],
      colour: r.pick(COLOURS),
      pattern: r.pick(PATTERNS),
      radius: r.range(0.09, 0.15),
      angle: 0,
      firstShot: shot,
    });
    return id;
  };

  const shots: Shot[] = [];
  const recalls: Story['recalls'] = [];
  let prevColour: BackgroundColourName | null = null;
  for (let k = 0; k < nShots; k++) {
    const nFrames = starts[k + 1] - starts[k];
    const duration = Math.max(nFrames - 1, 1) / fps;
    const prevCast = new Set(k > 0 ? shots[k - 1].objects.map((o) => o.character) : []);
    // Recallable: introduced at least two shots ago and absent from the previous shot, so the
    // model must carry the look across at least one unrelated shot.
    const eligible = characters.filter((c) => c.firstShot <= k - 2 && !prevCast.has(c.id)).map((c) => c.id);
    const castFull = characters.length >= SHAPES.length;
    const mustRecall = k === nShots - 1 && recalls.length === 0;
    let recall: Shot['recall'] = null;
    let main: number;
    if (eligible.length > 0 && (castFull || mustRecall || r.chance(0.35))) {
      main = r.pick(eligible);
      recall = { character: main, fromShot: characters[main].firstShot };
      recalls.push({ shot: k, character: main, fromShot: recall.fromShot });
    } else if (!castFull) main = newCharacter(k);
    else throw new Error('world: internal error, no character to show'); // unreachable: see eligible
    const framingKind = r.pick(['wide', 'wide', 'close-up', 'pan', 'pan'] as const);
    const ids = [main];
    // A close-up frames its main object only, so a second object would be off-screen.
    if (framingKind !== 'close-up' && characters.length < SHAPES.length && r.chance(0.35))
      ids.push(newCharacter(k));

    const mainLeft = r.chance(0.5);
    const objects: ShotObject[] = ids.map((id, i) => {
      const half: [number, number] = (i === 0) === mainLeft ? [0, aspect / 2] : [aspect / 2, aspect];
      return { character: id, motion: makeMotion(r, characters[id].radius, half, aspect, duration) };
    });
    const framing = makeFraming(
      r,
      framingKind,
      aspect,
      duration,
      objects.map((o) => meanPosition(o.motion)),
    );
    const background = makeBackground(
      r,
      ids.map((id) => OBJECT_RGB[characters[id].colour]),
      prevColour,
    );
    prevColour = background.colour;
    const draft = { index: k, startFrame: starts[k], frames: nFrames, background, framing, objects, recall };
    shots.push({ ...draft, caption: shotCaption(draft, characters) });
  }

  return {
    version: 1,
    seed,
    split,
    fps,
    width,
    height,
    aspect,
    frames,
    seconds,
    characters,
    shots,
    cuts: starts.slice(1, -1),
    recalls,
    globalCaption: opts.globalCaption === false ? null : globalCaption(nShots, characters),
  };
}

/** n + 1 increasing frame indices from 0 to frames; shot lengths vary by up to about 2.3x. */
function shotStarts(r: Rand, n: number, frames: number): number[] {
  const w = Array.from({ length: n }, () => r.range(0.6, 1.4));
  const total = w.reduce((a, b) => a + b, 0);
  const starts = [0];
  let acc = 0;
  for (let k = 1; k < n; k++) {
    acc += w[k - 1];
    const s = Math.round((frames * acc) / total);
    starts.push(Math.min(frames - (n - k), Math.max(starts[k - 1] + 1, s)));
  }
  starts.push(frames);
  return starts;
}

function makeMotion(
  r: Rand,
  radius: number,
  half: [number, number],
  aspect: number,
  duration: number,
): Motion {
  const m = radius * MAX_SCALE + 0.02;
  const xIn = () => r.range(Math.max(m, half[0] + m * 0.5), Math.min(aspect - m, half[1] - m * 0.5));
  const yIn = () => r.range(m, 1 - m);
  const kind = r.pick(['move', 'move', 'bounce', 'spin', 'grow', 'shrink', 'stay'] as const);
  switch (kind) {
    case 'move': {
      const dir = r.pick(DIRECTIONS);
      // "Drifts": at most 0.15 world units a second, so a close-up that follows it pans slowly.
      const reach = duration * r.range(0.06, 0.15);
      if (dir === 'left' || dir === 'right') {
        const d = Math.min(aspect - 2 * m, r.range(0.35, 0.6) * aspect, reach);
        const a = r.range(m, aspect - m - d);
        const y = yIn();
        return dir === 'right'
          ? { kind, dir, from: [a, y], to: [a + d, y] }
          : { kind, dir, from: [a + d, y], to: [a, y] };
      }
      const d = Math.min(1 - 2 * m, r.range(0.3, 0.5), reach);
      const a = r.range(m, 1 - m - d);
      const x = xIn();
      return dir === 'down'
        ? { kind, dir, from: [x, a], to: [x, a + d] }
        : { kind, dir, from: [x, a + d], to: [x, a] };
    }
    case 'bounce': {
      const ground = 1 - m;
      return {
        kind,
        x: xIn(),
        ground,
        height: Math.min(ground - m, r.range(0.25, 0.45)),
        bounces: Math.max(1, Math.round(duration * r.range(0.5, 0.9))),
      };
    }
    case 'spin': {
      // 0.15..0.35 turns a second: at most ~5 degrees a frame at 24 fps.
      const turns = (r.chance(0.5) ? 1 : -1) * Math.max(0.25, duration * r.range(0.15, 0.35));
      return { kind, at: [xIn(), yIn()], turns };
    }
    case 'grow':
      return { kind, at: [xIn(), yIn()], from: 0.6, to: MAX_SCALE };
    case 'shrink':
      return { kind, at: [xIn(), yIn()], from: MAX_SCALE, to: 0.6 };
    case 'stay':
      return { kind, at: [xIn(), yIn()] };
  }
}

/** A framing of the given kind; a pan slides across the objects' mean positions, so they stay in view. */
function makeFraming(r: Rand, kind: FramingKind, aspect: number, duration: number, centres: Vec2[]): Framing {
  if (kind === 'wide') return { kind };
  if (kind === 'close-up') return { kind, zoom: r.range(1.6, 2.0) };
  const zoom = r.range(1.25, 1.45);
  const half = aspect / (2 * zoom);
  const cx = centres.reduce((a, c) => a + c[0], 0) / centres.length;
  const cy = centres.reduce((a, c) => a + c[1], 0) / centres.length;
  // "Slow": at most 0.1 world units a second, never past the world's edge.
  const span = Math.min(aspect - 2 * half, duration * r.range(0.06, 0.1));
  const a = Math.min(aspect - half - span, Math.max(half, cx - span / 2));
  const y = Math.min(1 - 0.5 / zoom, Math.max(0.5 / zoom, cy));
  return r.chance(0.5)
    ? { kind, zoom, cy: y, x0: a, x1: a + span }
    : { kind, zoom, cy: y, x0: a + span, x1: a };
}

/** The tones a background of colour c can show (see background.ts). */
export function backgroundTones(c: RGB): RGB[] {
  return [c, shadeOf(c), lightOf(c)];
}

/**
 * A background whose colour differs from the previous shot's (so every cut is visible) and
 * contrasts with every object in the shot (so objects are never camouflaged).
 */
function makeBackground(r: Rand, objectColours: RGB[], prev: BackgroundColourName | null): Background {
  const kind = r.pick(BACKGROUND_KINDS);
  const candidates = r
    .shuffle(BACKGROUND_COLOURS)
    .filter(
      (c) => prev === null || (c !== prev && colourDistance(BACKGROUND_RGB[c], BACKGROUND_RGB[prev]) >= 40),
    );
  const contrast = (c: BackgroundColourName) =>
    Math.min(
      ...objectColours.flatMap((o) => backgroundTones(BACKGROUND_RGB[c]).map((t) => colourDistance(o, t))),
    );
  const good = candidates.find((c) => contrast(c) >= 45);
  const colour = good ?? candidates.reduce((a, b) => (contrast(b) > contrast(a) ? b : a));
  return { kind, colour };
}
