/** World clips for the VAE: RGB frames of synthetic stories as [1, 3, F, H, W] floats in [-1, 1]. */
import { generateStory, makeRenderer, type Split, splitSeed } from '../../data/world/index.js';
import { framesToFloat32 } from '../../tensor/frames.js';
import type { Rng } from '../../tensor/random.js';

export interface ClipSpec {
  frames: number;
  width: number;
  height: number;
}

/** `frames` consecutive frames of story `index` of `split`, from frame `start` (clamped to fit). */
export function worldClip(
  split: Split,
  index: number,
  start: number,
  c: ClipSpec,
  fps = 24,
): { data: Float32Array; bytes: Uint8Array[] } {
  const seconds = Math.max(3, Math.ceil(((start + c.frames) / fps) * 1.2));
  const story = generateStory({
    seed: splitSeed(split, index),
    seconds,
    fps,
    width: c.width,
    height: c.height,
  });
  if (story.frames < c.frames)
    throw new Error(`story ${split}/${index} has ${story.frames} frames, need ${c.frames}`);
  const s0 = Math.min(start, story.frames - c.frames);
  const r = makeRenderer(story);
  const bytes = Array.from({ length: c.frames }, (_, i) => r.render(s0 + i).rgb);
  return { data: framesToFloat32(bytes, c.width, c.height, 'CFHW'), bytes };
}

/**
 * A random training clip: a random training story and start frame, rendered at the full size and
 * cropped to `crop` (fully convolutional training on crops; evaluation runs on whole frames).
 */
export function randomCrop(
  rng: Rng,
  full: ClipSpec,
  crop: { width: number; height: number },
  storyPool: number,
): Float32Array {
  const index = rng.int(storyPool);
  const { data } = worldClip('train', index, rng.int(24 * 20), full);
  const x0 = rng.int(full.width - crop.width + 1);
  const y0 = rng.int(full.height - crop.height + 1);
  return cropCFHW(data, full, x0, y0, crop.width, crop.height);
}

/** [3, F, H, W] -> [3, F, h, w] window at (x0, y0). */
export function cropCFHW(
  data: Float32Array,
  s: ClipSpec,
  x0: number,
  y0: number,
  w: number,
  h: number,
): Float32Array {
  const out = new Float32Array(3 * s.frames * h * w);
  let o = 0;
  for (let p = 0; p < 3 * s.frames; p++)
    for (let y = 0; y < h; y++) {
      const row = (p * s.height + y0 + y) * s.width + x0;
      out.set(data.subarray(row, row + w), o);
      o += w;
    }
  return out;
}
