/**
 * The story file: what a user asks for. JSON (or the same fields in YAML: story/yaml.ts):
 *   { "title": "...", "fps": 24, "width": 224, "height": 128, "seed": 1,
 *     "global": "optional caption for every shot",
 *     "shots": [ { "caption": "a red striped circle drifts right across a blue wall", "seconds": 5 } ] }
 * Validation names the field and the problem; sizes must fit the VAE (multiples of 16).
 */
import { readFileSync } from 'node:fs';
import { parseYamlStory } from './yaml.js';

export interface Shot {
  caption: string;
  seconds: number;
}

export interface Story {
  title: string;
  fps: number;
  width: number;
  height: number;
  seed: number;
  global?: string;
  shots: Shot[];
}

/** A field's place in the story: ['shots', 1, 'seconds'] for shots[1].seconds. */
export type FieldPath = readonly (string | number)[];

export class StoryError extends Error {
  constructor(
    where: string,
    readonly problem: string,
    /** The field at fault, when one is (a YAML reader turns it into a line number). */
    readonly path: FieldPath = [],
  ) {
    super(`${where}: ${problem}`);
    this.name = 'StoryError';
  }
}

/** "shots[1].seconds" */
export function formatPath(path: FieldPath): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i ? `.${k}` : k)).join('');
}

/** The error for the field at `path` of the story from `source`: "source.shots[1].seconds: problem". */
function fieldError(source: string, path: FieldPath, problem: string): StoryError {
  return new StoryError(path.length ? `${source}.${formatPath(path)}` : source, problem, path);
}

const LIMITS = { maxSeconds: 600, maxShots: 64, maxFps: 60, maxSide: 1920 };

/** Validates parsed JSON (or YAML) as a story; `source` names the file in errors. */
export function parseStory(json: unknown, source = 'story'): Story {
  const bad = (path: FieldPath, problem: string) => fieldError(source, path, problem);
  const num = (v: unknown, path: FieldPath, lo: number, hi: number, integer = false): number => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw bad(path, `expected a number, got ${JSON.stringify(v)}`);
    if (integer && !Number.isInteger(v)) throw bad(path, `expected an integer, got ${v}`);
    if (v < lo || v > hi) throw bad(path, `${v} is out of range [${lo}, ${hi}]`);
    return v;
  };
  const text = (v: unknown, path: FieldPath): string => {
    if (typeof v !== 'string' || v.trim() === '') throw bad(path, 'expected a non-empty string');
    return v.trim();
  };
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw bad([], 'expected an object of story fields (title, fps, width, height, seed, global, shots)');
  const o = json as Record<string, unknown>;
  const known = new Set(['title', 'fps', 'width', 'height', 'seed', 'global', 'shots']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw bad([k], 'unknown field');
  const fps = num(o.fps ?? 24, ['fps'], 1, LIMITS.maxFps, true);
  const width = num(o.width ?? 224, ['width'], 16, LIMITS.maxSide, true);
  const height = num(o.height ?? 128, ['height'], 16, LIMITS.maxSide, true);
  for (const [k, v] of [
    ['width', width],
    ['height', height],
  ] as const)
    if (v % 16) throw bad([k], `${v} is not a multiple of 16 (VAE 8x, patch 2x)`);
  if (!Array.isArray(o.shots) || o.shots.length === 0) throw bad(['shots'], 'expected a non-empty array');
  if (o.shots.length > LIMITS.maxShots) throw bad(['shots'], `at most ${LIMITS.maxShots} shots`);
  // Array.from, not map: map skips the holes of a sparse array, which would pass unchecked
  const shots = Array.from(o.shots as unknown[], (s, i): Shot => {
    if (!s || typeof s !== 'object') throw bad(['shots', i], 'expected an object with caption and seconds');
    const r = s as Record<string, unknown>;
    return {
      caption: text(r.caption, ['shots', i, 'caption']),
      seconds: num(r.seconds, ['shots', i, 'seconds'], 1 / fps, LIMITS.maxSeconds),
    };
  });
  const total = shots.reduce((a, s) => a + s.seconds, 0);
  if (total > LIMITS.maxSeconds) throw bad(['shots'], `total ${total} s exceeds ${LIMITS.maxSeconds} s`);
  return {
    title: o.title === undefined ? 'untitled' : text(o.title, ['title']),
    fps,
    width,
    height,
    seed: num(o.seed ?? 0, ['seed'], 0, 2 ** 32 - 1, true),
    ...(o.global === undefined ? {} : { global: text(o.global, ['global']) }),
    shots,
  };
}

/** Reads a story file: YAML when it is named .yaml or .yml, else JSON. */
export function readStory(path: string): Story {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StoryError(path, `cannot read: ${(e as Error).message}`);
  }
  if (/\.ya?ml$/i.test(path)) return parseYamlStory(raw, path);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new StoryError(path, `not valid JSON: ${(e as Error).message}`);
  }
  return parseStory(json, path);
}

/**
 * Frame layout of a story: frames = round(total seconds * fps) + 1 (the first frame stands alone
 * in the causal VAE, so a minute at 24 fps is 1,441 frames), and each shot's first frame.
 */
export function storyFrames(story: Story): { frames: number; shotStartFrames: number[] } {
  const starts: number[] = [];
  let t = 0;
  for (const s of story.shots) {
    starts.push(Math.round(t * story.fps));
    t += s.seconds;
  }
  return { frames: Math.round(t * story.fps) + 1, shotStartFrames: starts };
}
