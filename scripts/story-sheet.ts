/**
 * A generated video next to its story's ground truth: one column per shot (its middle frame),
 * the generated frame above the world's render. For the README and model cards.
 *
 *   node --import tsx scripts/story-sheet.ts demo.mp4 examples/minute.story.json docs/demo-sheet.png
 */
import { makeRenderer } from '../src/data/world/index.js';
import { worldTruthOf } from '../src/pipeline/world-story.js';
import { readStory, storyFrames } from '../src/story/story.js';
import { writeContactSheet } from '../src/video/contact-sheet.js';
import { readVideo } from '../src/video/reader.js';

const [video, storyPath, out] = process.argv.slice(2);
if (!out) throw new Error('usage: story-sheet.ts VIDEO.mp4 STORY.json OUT.png');
const story = readStory(storyPath);
const truth = worldTruthOf(story);
if ('mismatch' in truth) throw new Error(`${storyPath} is not a world story: ${truth.mismatch}`);
const { frames, shotStartFrames } = storyFrames(story);
const middles = shotStartFrames.map((s, i) => Math.floor((s + (shotStartFrames[i + 1] ?? frames)) / 2));
const { frames: generated } = await readVideo(video);
const render = makeRenderer(truth.world);
const tiles = [...middles.map((f) => generated[f]), ...middles.map((f) => render.render(f).rgb)];
const size = writeContactSheet(out, tiles, story.width, story.height, { columns: middles.length });
console.log(`wrote ${out} (${size.width}x${size.height}): generated above, ground truth below`);
