/**
 * Training clips for the DiT from the synthetic world: a window of `frames` frames out of a
 * longer training story (so shots are as long as in real use and some windows hold a cut), its
 * per-shot captions and latent shot layout, and the story's global caption sometimes.
 * Everything is a pure function of (clip index, spec).
 */
import { generateStory, makeRenderer, type Story, splitSeed } from '../data/world/index.js';
import { makeRand } from '../data/world/rand.js';
import { exactLatentFrames, shotLayout } from '../models/latent-layout.js';
import { framesToFloat32 } from '../tensor/frames.js';

export interface ClipSpec {
  readonly frames: number; // 1 + 4k
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Length range of the stories the windows come from, in seconds. */
  readonly minSeconds: number;
  readonly maxSeconds: number;
  /** Probability that a clip carries the story's global caption. */
  readonly globalProb: number;
}

export interface WorldClip {
  readonly video: Float32Array; // [3, frames, H, W] in [-1, 1]
  readonly captions: string[];
  /** Latent frames of each caption's shot (sum = 1 + (frames - 1) / time). */
  readonly shotFrames: number[];
  readonly global?: string;
  readonly seed: number;
  readonly start: number;
}

/**
 * Clip `index`'s story and first frame, without rendering; `rand` is left where `worldClip` goes
 * on drawing (the global caption).
 */
export function clipWindow(index: number, spec: ClipSpec) {
  const rand = makeRand(index, 77);
  const seed = splitSeed('train', index);
  const seconds = rand.int(spec.minSeconds, spec.maxSeconds);
  const story = generateStory({ seed, seconds, fps: spec.fps, width: spec.width, height: spec.height });
  if (story.frames < spec.frames)
    throw new Error(
      `world clips: story ${index} has ${story.frames} frames, fewer than a clip's ${spec.frames}`,
    );
  const start = rand.int(0, story.frames - spec.frames);
  return { story, seed, start, rand };
}

/**
 * The story's shots a window of `frames` frames from `start` trains on, and their latent frames:
 * the shots it overlaps, on the latent grid by the one cut rule (models/latent-layout.ts); a shot
 * that owns no latent frame of the window is dropped, its caption with it.
 */
export function windowShots(story: Story, start: number, frames: number, time: number) {
  const visible = story.shots.filter((s) => s.startFrame + s.frames > start && s.startFrame < start + frames);
  const layout = shotLayout(
    frames,
    visible.map((s) => Math.max(0, s.startFrame - start)),
    time,
  );
  return { shots: layout.shots.map((k) => visible[k]), shotFrames: layout.shotFrames };
}

export function worldClip(index: number, spec: ClipSpec, time = 4): WorldClip {
  exactLatentFrames(spec.frames, time, 'world clips');
  const { story, seed, start, rand: r } = clipWindow(index, spec);
  const renderer = makeRenderer(story);
  const bytes = Array.from({ length: spec.frames }, (_, i) => renderer.render(start + i).rgb);
  const { shots, shotFrames } = windowShots(story, start, spec.frames, time);
  const global = story.globalCaption && r.chance(spec.globalProb) ? story.globalCaption : undefined;
  return {
    video: framesToFloat32(bytes, spec.width, spec.height, 'CFHW'),
    captions: shots.map((s) => s.caption),
    shotFrames,
    ...(global ? { global } : {}),
    seed,
    start,
  };
}
