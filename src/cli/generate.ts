/**
 * `moga generate --story FILE --out FILE.mp4 [--model DIR] [--steps N] [--seed S] [--guidance W]
 *  [--guidance-until T] [--noise-correlation R] [--backend B] [--maps DIR] [--save-latent] [--image SHOT=PNG] [--last-image SHOT=PNG] [--json]`: a story file in, an MP4 out (written to a temporary name and renamed
 * on success, so a failure never leaves a partial file), with progress bars on stderr.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend, withBackend } from '../backends/index.js';
import { removeStaleTemps } from '../io/atomic-file.js';
import { exitOnSignals } from '../io/exit-cleanup.js';
import type { GivenFrames } from '../models/dit/dit.js';
import { bundledModel } from '../pipeline/bundled.js';
import { checkConditioningModel, imageGiven, type ShotImage } from '../pipeline/conditioning.js';
import { describeUnknown, MAX_GUIDANCE, unknownWords } from '../pipeline/generate.js';
import { type GenerateReport, generateMp4 } from '../pipeline/generate-mp4.js';
import { loadModel, type MogaModel } from '../pipeline/model.js';
import { readStory, type Story } from '../story/story.js';
import { coverImage, readPng } from '../video/png.js';
import { integerAtLeast, memorySize, SAMPLING_OPTIONS, samplingOptions } from './options.js';
import { checkOutputPath } from './out-path.js';
import { stderrProgress } from './progress-bar.js';

const HELP = `usage: moga generate --story FILE --out FILE.mp4 [options]

Generates a multi-shot video from a story file (see examples/*.story.json) with a model
directory (DiT + text encoder + VAE), and writes an H.264 MP4.

  --story FILE     the story (JSON, or YAML if named .yaml/.yml): title, fps, width, height, seed,
                   global, shots[{caption, seconds}]
  --out FILE.mp4   where to write the video (atomically: temp file, then rename)
  --model DIR      model directory (default: the bundled models/dit-tiny)
  --steps N        sampler steps (default: the model's)
  --seed S         noise seed, an integer in [0, 2^32) (default: the story's)
  --guidance W     classifier-free guidance scale in [0, ${MAX_GUIDANCE}] (default: the model's; 1 = off, 2x faster)
  --guidance-until T   guide only while t > T in [0, 1], one DiT pass per step below it
                   (default: the model's, else 0 = every step guided)
  --noise-correlation R   the starting noise's correlation between neighbouring latent frames of a
                   shot, in [0, 1) (default: the model's, else 0 = independent; higher: steadier shots)
  --backend NAME   native | wasm | ref | cuda (default: the first that starts of native, wasm, ref)
  --strict-vocab   refuse captions with words the model does not know (default: warn, naming them)
  --max-memory M   refuse a story estimated to need more, e.g. 4G or 1500M (default: the memory available now)
  --save-latent    also save the final latent and the settings beside the MP4 (FILE.latent.safetensors,
                   FILE.json), what moga regenerate and moga extend start from
  --image SHOT=PNG fix story shot SHOT's first latent frame to this image (resized and centre-cropped to
                   the story size, encoded by the model's codec); repeatable; needs a model with
                   dit.conditioning
  --last-image SHOT=PNG   the same for the shot's last latent frame
  --maps DIR       also draw the router maps into DIR: per routed layer and latent frame, each token
                   tinted by its MoGA group over the decoded frame (PNGs), and groups.json (group
                   sizes per layer and frame, each group's share per shot)
  --json           print a JSON report on stdout (progress stays on stderr)
  --quiet          no progress bars
  -h, --help       this text`;

/** Story + model -> MP4 at `out` (checked first; temps of killed runs removed), with progress bars. */
export async function generateToMp4(
  story: Story,
  storyPath: string,
  model: MogaModel,
  out: string,
  opts: {
    steps?: number;
    seed?: number;
    guidance?: number;
    /** Guide only while t > this (undefined: the model's). */
    guidanceUntil?: number;
    /** Undefined: the model's. */
    noiseCorrelation?: number;
    maxMemory?: number;
    quiet?: boolean;
    maps?: string;
    saveLatent?: boolean;
    given?: GivenFrames;
    /** The command's name in errors (generate, regenerate, extend). */
    command?: string;
  },
): Promise<GenerateReport> {
  const target = checkOutputPath(opts.command ?? 'generate', 'out', out, {
    ext: '.mp4',
    inputs: [{ flag: 'story', path: storyPath }],
  });
  removeStaleTemps(dirname(target)); // left by runs killed with SIGKILL
  return generateMp4(story, model, out, {
    steps: opts.steps,
    seed: opts.seed,
    guidance: opts.guidance,
    guidanceUntil: opts.guidanceUntil,
    noiseCorrelation: opts.noiseCorrelation,
    maxMemory: opts.maxMemory,
    onProgress: stderrProgress({ quiet: opts.quiet }),
    storyName: storyPath,
    maps: opts.maps,
    saveLatent: opts.saveLatent,
    given: opts.given,
  });
}

/** `--image 2=a.png` -> shot 2, a.png; `flag` names the option in errors. */
export function parseShotImage(flag: string, v: string): { shot: number; path: string } {
  const m = /^(\d+)=(.+)$/.exec(v);
  if (!m) throw new Error(`generate: --${flag} must be SHOT=FILE.png (e.g. 0=first.png), got '${v}'`);
  if (!existsSync(m[2])) throw new Error(`generate: --${flag} ${m[2]} does not exist`);
  return { shot: Number(m[1]), path: m[2] };
}

/** The --image / --last-image options as given frames of `story` on the model's codec. */
export function imagesGiven(
  story: Story,
  model: MogaModel,
  first: readonly string[],
  last: readonly string[],
): GivenFrames | undefined {
  if (first.length + last.length === 0) return undefined;
  checkConditioningModel(model, 'generate --image');
  const images: ShotImage[] = [
    ...first.map((v) => ({ ...parseShotImage('image', v), at: 'first' as const })),
    ...last.map((v) => ({ ...parseShotImage('last-image', v), at: 'last' as const })),
  ].map((im) => ({
    shot: im.shot,
    at: im.at,
    rgb: coverImage(readPng(im.path), story.width, story.height),
  }));
  return imageGiven(story, model.codec, images);
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
      ...SAMPLING_OPTIONS,
      backend: { type: 'string' },
      'max-memory': { type: 'string' },
      maps: { type: 'string' },
      'save-latent': { type: 'boolean' },
      image: { type: 'string', multiple: true },
      'last-image': { type: 'string', multiple: true },
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
  exitOnSignals(); // Ctrl-C: stop ffmpeg, remove the temp file, exit 130
  checkOutputPath('generate', 'out', values.out, {
    ext: '.mp4',
    inputs: [{ flag: 'story', path: values.story }],
  });
  const story = readStory(values.story); // throws a StoryError naming the field: nothing is written
  const { guidance, guidanceUntil, noiseCorrelation } = samplingOptions('generate', values);
  const steps = integerAtLeast('generate', 'steps', values.steps, 1);
  const seed = integerAtLeast('generate', 'seed', values.seed, 0);
  if (seed !== undefined && seed >= 2 ** 32)
    throw new Error(`generate: --seed must be an integer in [0, 2^32), got '${values.seed}'`);
  const maxMemory = memorySize('generate', 'max-memory', values['max-memory']);
  if (values.maps !== undefined && existsSync(values.maps) && !statSync(values.maps).isDirectory())
    throw new Error(`generate: --maps '${values.maps}' is a file; name a folder (created if missing)`);
  const backend = (await chooseBackend(values.backend)).name;
  if (!values.quiet) process.stderr.write(`generate: backend ${backend}\n`);
  const model = await loadModel(values.model ?? bundledModel());
  const given = withBackend(model.backend, () =>
    imagesGiven(story, model, values.image ?? [], values['last-image'] ?? []),
  );
  // before any output: --strict-vocab refuses here, else the words are named once
  const unknown = unknownWords(story, model, values['strict-vocab']);
  if (unknown.length)
    process.stderr.write(
      `generate: warning: words the model does not know (encoded as bytes it never saw in training; --strict-vocab refuses them): ${describeUnknown(unknown)}\n`,
    );
  const report = await generateToMp4(story, values.story, model, values.out, {
    steps,
    seed,
    maxMemory,
    guidance,
    guidanceUntil,
    noiseCorrelation,
    quiet: values.quiet,
    maps: values.maps,
    saveLatent: values['save-latent'],
    given,
  });
  model.dispose();
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else
    process.stderr.write(
      `wrote ${report.out}: ${report.frames} frames, ${report.width}x${report.height} @ ${report.fps} fps, ${report.shots} shots, ${(report.bytes / 1024).toFixed(0)} KiB in ${report.timings.total.toFixed(1)} s\n`,
    );
}
