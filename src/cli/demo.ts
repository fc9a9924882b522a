/**
 * `moga demo` (= `npm run demo`): the product end to end on a CPU. Generates the one-minute,
 * 24 fps, multi-shot story examples/minute.story.json with the bundled model models/dit-tiny
 * and writes demo.mp4 (in the current folder unless --out says otherwise), with progress bars.
 *
 * When the bundled model (or the VAE it names) is missing, it says so and renders the story's
 * ground truth from the synthetic world instead -- the story file was made from a world story --
 * so the command always produces a real MP4, labelled for what it is.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../backends/index.js';
import { makeRenderer } from '../data/world/index.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { exitOnSignals } from '../io/exit-cleanup.js';
import { bundledExample, bundledModel, packageRoot } from '../pipeline/bundled.js';
import { loadModel, type MogaModel } from '../pipeline/model.js';
import { stageTracker } from '../pipeline/progress.js';
import { worldTruthOf } from '../pipeline/world-story.js';
import { readStory, type Story, storyFrames } from '../story/story.js';
import { openMp4Writer } from '../video/index.js';
import { generateToMp4 } from './generate.js';
import { integerAtLeast } from './options.js';
import { checkOutputPath } from './out-path.js';
import { stderrProgress } from './progress-bar.js';

const HELP = `usage: moga demo [--out demo.mp4] [--story FILE] [--model DIR] [--steps N] [--backend B] [--json]

Generates examples/minute.story.json (60 s, 24 fps, 1,441 frames, 8 shots) with the bundled
model models/dit-tiny on this machine and writes demo.mp4 (plus demo.json, the report).
Without a bundled model it renders the story's ground truth from the synthetic world instead.`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      story: { type: 'string' },
      model: { type: 'string' },
      steps: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  exitOnSignals(); // Ctrl-C: stop ffmpeg, remove the temp file, exit 130
  const storyPath = values.story ?? bundledExample('minute');
  const inputs = [{ flag: 'story', path: storyPath }];
  const out = checkOutputPath('demo', 'out', values.out ?? 'demo.mp4', { ext: '.mp4', inputs });
  const reportPath = `${out.slice(0, -'.mp4'.length)}.json`;
  checkOutputPath('demo', 'out', reportPath, { ext: '.json', inputs }); // the report beside it
  const modelDir = values.model ?? bundledModel();
  const steps = integerAtLeast('demo', 'steps', values.steps, 1);
  const story = readStory(storyPath);
  const { frames } = storyFrames(story);
  const say = (s: string) => process.stderr.write(`${s}\n`);
  say(
    `moga demo: "${story.title}": ${story.shots.length} shots, ${frames} frames (${(frames - 1) / story.fps} s at ${story.fps} fps), ${story.width}x${story.height}`,
  );
  if (!values.backend) ensureWasmBuild(say);
  const backend = (await chooseBackend(values.backend)).name;
  say(`backend: ${backend}`);

  let why: string | undefined;
  let model: MogaModel | undefined;
  try {
    model = await loadModel(modelDir);
  } catch (e) {
    why = (e as Error).message;
  }
  let report: Record<string, unknown>;
  if (model) {
    say(`model: ${modelDir}`);
    report = { source: 'generated', ...(await generateToMp4(story, storyPath, model, out, { steps })) };
    model.dispose();
  } else {
    say(`\nNO BUNDLED MODEL: ${why}`);
    say('Train it with: moga train dit --config configs/dit-tiny.json');
    say("Rendering the story's GROUND TRUTH from the synthetic world instead (not a generated video).\n");
    report = { source: 'ground-truth', reason: why, ...(await renderTruth(story, storyPath, out)) };
  }
  writeFileAtomic(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  if (values.json) console.log(JSON.stringify(report, null, 2));
  const label =
    report.source === 'generated' ? 'generated video' : 'GROUND TRUTH (world render, not generated)';
  say(
    `\ndemo: wrote ${out} -- ${label}, ${report.frames} frames, ${story.width}x${story.height} @ ${story.fps} fps`,
  );
}

/**
 * A fresh checkout has no build/ (it is not committed): build the WebAssembly kernels once, since
 * the reference backend alone would take hours for a minute of video.
 */
function ensureWasmBuild(say: (s: string) => void): void {
  const ROOT = packageRoot();
  // an installed package ships build/wasm; only a checkout has the sources to build it from
  if (existsSync(join(ROOT, 'build', 'wasm', 'kernels.wasm'))) return;
  if (!existsSync(join(ROOT, 'scripts', 'build.mjs'))) return;
  say('building the WebAssembly kernels once (npm run build) ...');
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (!existsSync(join(ROOT, 'build', 'wasm', 'kernels.wasm')))
    say(
      `the build did not produce build/wasm (exit ${r.status}); continuing on the reference backend (slow)`,
    );
}

/** The world story behind a story file, rendered frame by frame into an MP4. */
async function renderTruth(story: Story, storyPath: string, out: string): Promise<Record<string, unknown>> {
  const truth = worldTruthOf(story);
  if ('mismatch' in truth)
    throw new Error(
      `demo: ${storyPath} is not a synthetic-world story, so there is no ground truth to render (${truth.mismatch})`,
    );
  const w = truth.world;
  const t0 = performance.now();
  const writer = await openMp4Writer(out, { width: story.width, height: story.height, fps: story.fps });
  const track = stageTracker('render', w.frames, 'frames', stderrProgress());
  const r = makeRenderer(w);
  try {
    for (let f = 0; f < w.frames; f++) {
      await writer.write(r.render(f).rgb);
      if (f % 24 === 23 || f === w.frames - 1) track(f + 1);
    }
  } catch (e) {
    await writer.abort();
    throw e;
  }
  const closed = await writer.close();
  return {
    out,
    bytes: closed.bytes,
    story: storyPath,
    worldSeed: w.seed,
    frames: closed.frames,
    width: story.width,
    height: story.height,
    fps: story.fps,
    shots: w.shots.length,
    seconds: (performance.now() - t0) / 1000,
  };
}
