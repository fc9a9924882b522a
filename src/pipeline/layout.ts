/**
 * A story's latent layout: its frames (story/story.ts) placed on the codec's latent grid by the
 * one set of rules in models/latent-layout.ts. A story shot that would own no latent frame is
 * refused rather than dropped or moved: the user asked for it, and the cuts stay where the story
 * puts them (to within half a latent frame).
 */
import { type LatentFactors, type LatentLayout, videoLayout } from '../models/latent-layout.js';
import { type Story, storyFrames } from '../story/story.js';

export function latentLayout(story: Story, codec: LatentFactors): LatentLayout {
  const { frames, shotStartFrames } = storyFrames(story);
  const layout = videoLayout({ frames, width: story.width, height: story.height, shotStartFrames }, codec);
  const lost = story.shots.findIndex((_, k) => !layout.shots.includes(k));
  if (lost >= 0)
    throw new Error(
      `story shot ${lost} (starting at frame ${shotStartFrames[lost]} of ${frames}) is too short: it owns no latent frame; a shot needs about ${codec.time} frames of its own`,
    );
  return layout;
}
