/**
 * The story file: what a user asks for. JSON:
 *   { "title": "...", "fps": 24, "width": 224, "height": 128, "seed": 1,
 *     "global": "optional caption for every shot",
 *     "shots": [ { "caption": "a red striped circle drifts right across a blue wall", "seconds": 5 } ] }
 * Validation names the field and the problem; sizes must fit the VAE (multiples of 16).
 */
import { readFileSync } from 'node:fs';

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

export class StoryError extends Error {
  constructor(where: string, problem: string) {
    super(`${where}: ${problem}`);
  }
}

const LIMITS = { maxSeconds: 600, maxShots: 64, maxFps: 60, maxSide: 1920 };

function num(v: unknown, where: string, lo: number, hi: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new StoryError(where, `expected a number, got ${JSON.stringify(v)}`);
  if (integer && !Number.isInteger(v)) throw new StoryError(where, `expected an integer, got ${v}`);
  if (v < lo || v > hi) throw new StoryError(where, `${v} is out of range [${lo}, ${hi}]`);
  return v;
}

function text(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new StoryError(where, 'expected a non-empty string');
  return v.trim();
}

/** Validates parsed JSON as a story; `source` names the file in errors. */
export function parseStory(json: unknown, source = 'story'): Story {
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new StoryError(source, 'expected a JSON object');
  const o = json as Record<string, unknown>;
  const known = new Set(['title', 'fps', 'width', 'height', 'seed', 'global', 'shots']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new StoryError(`${source}.${k}`, 'unknown field');
  const fps = num(o.fps ?? 24, `${source}.fps`, 1, LIMITS.maxFps, true);
  const width = num(o.width ?? 224, `${source}.width`, 16, LIMITS.maxSide, true);
  const height = num(o.height ?? 128, `${source}.height`, 16, LIMITS.maxSide, true);
  for (const [k, v] of [
    ['width', width],
    ['height', height],
  ] as const)
    if (v % 16) throw new StoryError(`${source}.${k}`, `${v} is not a multiple of 16 (VAE 8x, patch 2x)`);
  if (!Array.isArray(o.shots) || o.shots.length === 0)
    throw new StoryError(`${source}.shots`, 'expected a non-empty array');
  if (o.shots.length > LIMITS.maxShots)
    throw new StoryError(`${source}.shots`, `at most ${LIMITS.maxShots} shots`);
  // Array.from, not map: map skips the holes of a sparse array, which would pass unchecked
  const shots = Array.from(o.shots as unknown[], (s, i): Shot => {
    const where = `${source}.shots[${i}]`;
    if (!s || typeof s !== 'object')
      throw new StoryError(where, 'expected an object with caption and seconds');
    const r = s as Record<string, unknown>;
    return {
      caption: text(r.caption, `${where}.caption`),
      seconds: num(r.seconds, `${where}.seconds`, 1 / fps, LIMITS.maxSeconds),
    };
  });
  const total = shots.reduce((a, s) => a + s.seconds, 0);
  if (total > LIMITS.maxSeconds)
    throw new StoryError(`${source}.shots`, `total ${total} s exceeds ${LIMITS.maxSeconds} s`);
  return {
    title: o.title === undefined ? 'untitled' : text(o.title, `${source}.title`),
    fps,
    width,
    height,
    seed: num(o.seed ?? 0, `${source}.seed`, 0, 2 ** 32 - 1, true),
    ...(o.global === undefined ? {} : { global: text(o.global, `${source}.global`) }),
    shots,
  };
}

export function readStory(path: string): Story {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StoryError(path, `cannot read: ${(e as Error).message}`);
  }
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
