/**
 * `moga generate --story FILE --out FILE.mp4 [--model DIR] [--steps N] [--seed S] [--guidance W]
 *  [--backend B] [--json]`: a story file in, an MP4 out (written to a temporary name and renamed
 * on success, so a failure never leaves a partial file), with progress bars on stderr.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../backends/index.js';
import { bundledModel } from '../pipeline/bundled.js';
import {
  describeUnknown,
  type GenerateResult,
  generate,
  type UnknownWords,
  unknownWords,
} from '../pipeline/generate.js';
import { loadModel, type MogaModel } from '../pipeline/model.js';
import { readStory, type Story } from '../story/story.js';
import { openMp4Writer } from '../video/index.js';
import { stderrProgress } from './progress-bar.js';

const HELP = `usage: moga generate --story FILE --out FILE.mp4 [options]

Generates a multi-shot video from a story file (see examples/*.story.json) with a model
directory (DiT + text encoder + VAE), and writes an H.264 MP4.

  --story FILE     the story (JSON, or YAML if named .yaml/.yml): title, fps, width, height, seed,
                   global, shots[{caption, seconds}]
  --out FILE.mp4   where to write the video (atomically: temp file, then rename)
  --model DIR      model directory (default: the bundled models/dit-tiny)
  --steps N        sampler steps (default: the model's)
  --seed S         noise seed (default: the story's)
  --guidance W     classifier-free guidance scale (default: the model's; 1 = off, 2x faster)
  --backend NAME   native | wasm | ref | cuda (default: the first that starts of native, wasm, ref)
  --strict-vocab   refuse captions with words the model does not know (default: warn, naming them)
  --json           print a JSON report on stdout (progress stays on stderr)
  --quiet          no progress bars
  -h, --help       this text`;

export interface GenerateReport {
  readonly out: string;
  readonly bytes: number;
  readonly story: string;
  readonly title: string;
  readonly model: string;
  readonly backend: string;
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly seconds: number;
  readonly shots: number;
  readonly latent: { frames: number; height: number; width: number; shotStarts: number[] };
  readonly steps: number;
  readonly seed: number;
  readonly guidance: number;
  readonly codec: string;
  readonly unknownWords: readonly UnknownWords[];
  readonly timings: GenerateResult['seconds'];
}

function posInt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || (Number(v) < 1 && what !== 'seed'))
    throw new Error(`generate: --${what} must be a positive integer, got '${v}'`);
  return Number(v);
}

/** Story + model -> MP4 at `out`; the report of what was made. */
export async function generateToMp4(
  story: Story,
  storyPath: string,
  model: MogaModel,
  out: string,
  opts: { steps?: number; seed?: number; guidance?: number; quiet?: boolean },
): Promise<GenerateReport> {
  const dir = dirname(resolve(out));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`generate: output folder ${dir} does not exist`);
  const writer = await openMp4Writer(out, { width: story.width, height: story.height, fps: story.fps });
  let result: GenerateResult;
  try {
    result = await generate(story, model, {
      steps: opts.steps,
      seed: opts.seed,
      guidance: opts.guidance,
      onProgress: stderrProgress({ quiet: opts.quiet }),
      onFrame: (rgb) => writer.write(rgb),
    });
  } catch (e) {
    await writer.abort();
    throw e;
  }
  const closed = await writer.close();
  const l = result.layout;
  return {
    out,
    bytes: closed.bytes,
    story: storyPath,
    title: story.title,
    model: model.dir ?? 'in-memory',
    backend: model.backend.name,
    frames: result.frames,
    width: result.width,
    height: result.height,
    fps: result.fps,
    seconds: (result.frames - 1) / result.fps,
    shots: story.shots.length,
    latent: { frames: l.latentFrames, height: l.height, width: l.width, shotStarts: l.shotStarts },
    steps: result.steps,
    seed: result.seed,
    guidance: result.guidance,
    codec: result.codec,
    unknownWords: result.unknownWords,
    timings: result.seconds,
  };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      story: { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      guidance: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
      'strict-vocab': { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (!values.story) throw new Error('generate: --story is required (try examples/minute.story.json)');
  if (!values.out) throw new Error('generate: --out is required (an .mp4 path)');
  const story = readStory(values.story); // throws a StoryError naming the field: nothing is written
  const guidance = values.guidance === undefined ? undefined : Number(values.guidance);
  if (guidance !== undefined && !(guidance >= 0))
    throw new Error(`generate: --guidance must be a number >= 0, got '${values.guidance}'`);
  const backend = (await chooseBackend(values.backend)).name;
  if (!values.quiet) process.stderr.write(`generate: backend ${backend}\n`);
  const model = await loadModel(values.model ?? bundledModel());
  // before any output: --strict-vocab refuses here, else the words are named once
  const unknown = unknownWords(story, model, values['strict-vocab']);
  if (unknown.length)
    process.stderr.write(
      `generate: warning: words the model does not know (encoded as bytes it never saw in training; --strict-vocab refuses them): ${describeUnknown(unknown)}\n`,
    );
  const report = await generateToMp4(story, values.story, model, values.out, {
    steps: posInt(values.steps, 'steps'),
    seed: values.seed === undefined ? undefined : posInt(values.seed, 'seed'),
    guidance,
    quiet: values.quiet,
  });
  model.dispose();
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else
    process.stderr.write(
      `wrote ${report.out}: ${report.frames} frames, ${report.width}x${report.height} @ ${report.fps} fps, ${report.shots} shots, ${(report.bytes / 1024).toFixed(0)} KiB in ${report.timings.total.toFixed(1)} s\n`,
    );
}
