/**
 * Training clips for the DiT from the synthetic world: a window of `frames` frames out of a
 * longer training story (so shots are as long as in real use and some windows hold a cut), its
 * per-shot captions and latent shot layout, and the story's global caption sometimes.
 * Everything is a pure function of (clip index, spec).
 */
import { generateStory, makeRenderer, splitSeed } from '../data/world/index.js';
import { makeRand } from '../data/world/rand.js';
import { framesToFloat32 } from '../data/world/to-tensor.js';
import { latentCut } from './layout.js';

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

export function worldClip(index: number, spec: ClipSpec, time = 4): WorldClip {
  if ((spec.frames - 1) % time) throw new Error(`world clips: frames ${spec.frames} is not 1 + ${time} k`);
  const r = makeRand(index, 77);
  const seed = splitSeed('train', index);
  const seconds = r.int(spec.minSeconds, spec.maxSeconds);
  const story = generateStory({ seed, seconds, fps: spec.fps, width: spec.width, height: spec.height });
  if (story.frames < spec.frames)
    throw new Error(
      `world clips: story ${index} has ${story.frames} frames, fewer than a clip's ${spec.frames}`,
    );
  const start = r.int(0, story.frames - spec.frames);
  const renderer = makeRenderer(story);
  const bytes = Array.from({ length: spec.frames }, (_, i) => renderer.render(start + i).rgb);
  const latent = 1 + (spec.frames - 1) / time;
  const captions: string[] = [];
  const starts: number[] = [];
  for (const shot of story.shots) {
    const end = shot.startFrame + shot.frames;
    if (end <= start || shot.startFrame >= start + spec.frames) continue;
    const at = shot.startFrame <= start ? 0 : latentCut(shot.startFrame - start, time);
    if (at >= latent) continue; // the shot only touches the last latent frame: it belongs to the previous one
    if (starts.length && at <= starts[starts.length - 1]) {
      // two cuts in one latent frame: the later shot wins it
      captions[captions.length - 1] = shot.caption;
      continue;
    }
    starts.push(at);
    captions.push(shot.caption);
  }
  const shotFrames = starts.map((s, i) => (i + 1 < starts.length ? starts[i + 1] : latent) - s);
  const global = story.globalCaption && r.chance(spec.globalProb) ? story.globalCaption : undefined;
  return {
    video: framesToFloat32(bytes, spec.width, spec.height, 'CFHW'),
    captions,
    shotFrames,
    ...(global ? { global } : {}),
    seed,
    start,
  };
}
