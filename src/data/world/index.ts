/** The synthetic multi-shot world: stories with captions and exact ground truth, rendered to frames. */
export { backgroundPhrase, globalCaption, grammarWords, nounPhrase, shotCaption } from './caption.js';
export type { Camera } from './motion.js';
export { BACKGROUND_RGB, inkOf, OBJECT_RGB, type RGB } from './palette.js';
export {
  type FrameTruth,
  frameTruth,
  makeRenderer,
  type ObjectTruth,
  type RenderOptions,
  renderFrame,
  shotAt,
} from './render.js';
export { SPLIT_RANGES, type Split, splitOf, splitSeed } from './splits.js';
export { frameCount, generateStory, MAX_SHOTS, type StoryOptions } from './story.js';
export * from './types.js';
