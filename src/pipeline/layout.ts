/**
 * Where a story lands in latent space: frames, latent frames (1 + (F - 1) / 4, rounded up; the
 * extra decoded frames are dropped), latent size (H / 8, W / 8), and each shot's first latent
 * frame. A cut at video frame s goes to the first latent frame whose frames are mostly in the new
 * shot; every shot keeps at least one latent frame.
 */
import { type Story, storyFrames } from '../story/story.js';
import { latentFrames } from './codec.js';

export interface LatentLayout {
  /** Video frames the story asks for (round(seconds * fps) + 1). */
  readonly frames: number;
  /** Latent frames sampled, and the video frames they decode to (>= frames). */
  readonly latentFrames: number;
  readonly decodedFrames: number;
  readonly height: number;
  readonly width: number;
  /** First latent frame of each shot (starts with 0, strictly increasing). */
  readonly shotStarts: number[];
  /** Latent frames of each shot. */
  readonly shotFrames: number[];
  /** First video frame of each shot, as the story places it. */
  readonly shotStartFrames: number[];
}

/**
 * The latent frame a cut at video frame `s` starts: latent i (> 0) covers frames T(i-1)+1..Ti, and
 * the first one with at least half its frames at or after s is the new shot's.
 */
export function latentCut(s: number, time: number): number {
  return s <= 0 ? 0 : Math.ceil((s + time / 2 - 1) / time);
}

export function latentLayout(story: Story, codec: { space: number; time: number }): LatentLayout {
  const { frames, shotStartFrames } = storyFrames(story);
  const { latent, decoded } = latentFrames(frames, codec.time);
  if (story.width % codec.space || story.height % codec.space)
    throw new Error(
      `story size ${story.width}x${story.height} is not a multiple of the codec's ${codec.space}`,
    );
  const starts: number[] = [];
  shotStartFrames.forEach((s, i) => {
    const want = i === 0 ? 0 : Math.max(starts[i - 1] + 1, latentCut(s, codec.time));
    if (want >= latent)
      throw new Error(
        `story shot ${i} (starting at frame ${s} of ${frames}) is too short: every shot needs at least ${codec.time} frames of its own`,
      );
    starts.push(want);
  });
  const shotFrames = starts.map((s, i) => (i + 1 < starts.length ? starts[i + 1] : latent) - s);
  return {
    frames,
    latentFrames: latent,
    decodedFrames: decoded,
    height: story.height / codec.space,
    width: story.width / codec.space,
    shotStarts: starts,
    shotFrames,
    shotStartFrames,
  };
}
