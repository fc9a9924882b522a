/**
 * Statistics of a short generation with the bundled model, the fingerprint the golden test checks:
 * per shot, the mean RGB and the pixel standard deviation of its frames (in [0, 1]). They move
 * when a loader, the codec, the text encoder or the sampler breaks, and barely across backends.
 *
 *   node --import tsx test/golden/bundled-stats.ts --write   # after retraining models/dit-tiny
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setBackend } from '../../src/backends/index.js';
import { videoFramesOf } from '../../src/models/latent-layout.js';
import { generate } from '../../src/pipeline/generate.js';
import { loadModel } from '../../src/pipeline/model.js';
import { parseStory } from '../../src/story/story.js';
import { crc32 } from '../../src/video/png.js';

export const MODEL_DIR = 'models/dit-tiny';
export const GOLDEN_FILE = 'test/golden/dit-tiny.json';

export const GOLDEN_STORY = parseStory({
  title: 'golden',
  fps: 24,
  width: 160,
  height: 96,
  seed: 11,
  shots: [
    { caption: 'a red circle rests on a yellow wall, wide shot', seconds: 1 },
    { caption: 'a white star spins in front of a navy sky, close-up', seconds: 1 },
  ],
});

export interface GoldenStats {
  /** crc32 of dit.safetensors the statistics were made with. */
  readonly weights: string;
  readonly steps: number;
  /** Per shot: [mean R, mean G, mean B, std]. */
  readonly shots: number[][];
}

export function weightsId(dir = MODEL_DIR): string {
  return (crc32(new Uint8Array(readFileSync(join(dir, 'dit.safetensors')))) >>> 0).toString(16);
}

export async function bundledStats(steps = 2): Promise<GoldenStats> {
  const model = await loadModel(MODEL_DIR);
  const r = await generate(GOLDEN_STORY, model, { steps });
  // a shot's frames as decoded: from the first video frame of its first latent frame
  const bounds = [...r.layout.shotStarts.map((s) => videoFramesOf(s, model.codec.time)[0]), r.frames];
  const shots = [0, 1].map((s) => {
    const sum = [0, 0, 0];
    let sq = 0;
    let n = 0;
    for (let f = bounds[s]; f < bounds[s + 1]; f++)
      for (let i = 0; i < r.video![f].length; i += 3) {
        for (let c = 0; c < 3; c++) {
          const v = r.video![f][i + c] / 255;
          sum[c] += v;
          sq += v * v;
        }
        n++;
      }
    const mean = sum.map((v) => v / n);
    const all = (mean[0] + mean[1] + mean[2]) / 3;
    return [...mean, Math.sqrt(Math.max(0, sq / (3 * n) - all * all))];
  });
  return { weights: weightsId(), steps, shots };
}

if (process.argv.includes('--write')) {
  await setBackend('wasm');
  const stats = await bundledStats();
  writeFileSync(GOLDEN_FILE, `${JSON.stringify(stats, null, 2)}\n`);
  console.log(`wrote ${GOLDEN_FILE}:`, JSON.stringify(stats));
}
