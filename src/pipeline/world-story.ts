/**
 * The bridge between the synthetic world and story files: a world story as a story file (its
 * captions and shot lengths; the story seed is the world seed), and, for a story file made that
 * way, the world story it came from, whose frames are its exact ground truth.
 */
import * as world from '../data/world/index.js';
import type { Story } from '../story/story.js';
import { storyFrames } from '../story/story.js';

type WorldStory = ReturnType<typeof world.generateStory>;

/** A world story as a story file (`seed` = the world seed, so `worldTruthOf` can find it again). */
export function storyFromWorld(w: WorldStory, title = `world story ${w.seed}`): Story {
  const end = w.frames - 1; // the extra last frame is the story's "+1", not a shot's
  return {
    title,
    fps: w.fps,
    width: w.width,
    height: w.height,
    seed: w.seed,
    ...(w.globalCaption ? { global: w.globalCaption } : {}),
    shots: w.shots.map((s, i) => ({
      caption: s.caption,
      seconds: ((i + 1 < w.shots.length ? w.shots[i + 1].startFrame : end) - s.startFrame) / w.fps,
    })),
  };
}

/**
 * The world story a story file was made from, or why there is none: the world story with the
 * file's seed, length and size must have the same captions and cuts.
 */
export function worldTruthOf(story: Story): { world: WorldStory } | { mismatch: string } {
  const { frames, shotStartFrames } = storyFrames(story);
  const seconds = (frames - 1) / story.fps;
  let w: WorldStory;
  try {
    w = world.generateStory({
      seed: story.seed,
      seconds,
      fps: story.fps,
      width: story.width,
      height: story.height,
    });
  } catch (e) {
    return { mismatch: (e as Error).message };
  }
  if (w.shots.length !== story.shots.length)
    return {
      mismatch: `world story ${story.seed} has ${w.shots.length} shots, the story ${story.shots.length}`,
    };
  const bad = w.shots.findIndex(
    (s, i) => s.caption !== story.shots[i].caption || s.startFrame !== shotStartFrames[i],
  );
  if (w.frames !== frames)
    return { mismatch: `world story ${story.seed} has ${w.frames} frames, the story ${frames}` };
  if (bad >= 0) return { mismatch: `shot ${bad} differs from world story ${story.seed}'s` };
  return { world: w };
}
