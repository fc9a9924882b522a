/**
 * `moga regenerate --from OUT.json --shots 5[,6] [--caption 5="..."] [--seed N] --out NEW.mp4` and
 * `moga extend --from OUT.json --story MORE.json --out LONGER.mp4`: a saved generation
 * (generate --save-latent) kept where it is not changed, through the one conditioning mechanism
 * (pipeline/conditioning.ts). Both save their own latent and settings, so they chain.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend, withBackend } from '../backends/index.js';
import { exitOnSignals } from '../io/exit-cleanup.js';
import { disposeGiven, type GivenFrames } from '../models/dit/dit.js';
import { bundledModel } from '../pipeline/bundled.js';
import {
  checkConditioningModel,
  extendGiven,
  readGeneration,
  regeneration,
  type SavedGeneration,
} from '../pipeline/conditioning.js';
import { loadModel, type MogaModel } from '../pipeline/model.js';
import { readStory, type Story } from '../story/story.js';
import { generateToMp4 } from './generate.js';
import { integerAtLeast, SAMPLING_OPTIONS, samplingOptions } from './options.js';

const REGENERATE_HELP = `usage: moga regenerate --from OUT.json --shots K[,K...] --out NEW.mp4 [options]

Regenerates some shots of a video made with moga generate --save-latent and keeps every other
shot: their latent frames are given to the model and kept exactly, so their decoded frames are
those of the original (but for the one video frame at each side of a regenerated shot's cut that
the causal decoder shares with its neighbour; see README). Needs a model with dit.conditioning.

  --from OUT.json      the settings file generate --save-latent wrote beside OUT.mp4
  --shots K[,K...]     the story shots to regenerate (0-based)
  --caption K=TEXT     a new caption for regenerated shot K (repeatable)
  --seed S             noise seed (default: the original's + 1, so the shot changes)
  --out NEW.mp4        the new video; NEW.json and NEW.latent.safetensors are saved beside it
  --model DIR          the model (default: the one --from names; it must be the same weights)
  --steps N            sampler steps (default: the original's)
  --guidance W         guidance scale (default: the original's)
  --guidance-until T   guide only while t > T (default: the original's; for a file saved without
                       it, the model's)
  --noise-correlation R   as for generate (default: the original's, else the model's)
  --backend NAME       native | wasm | ref | cuda
  --json               print the report as JSON
  --quiet              no progress bars
  -h, --help           this text`;

const EXTEND_HELP = `usage: moga extend --from OUT.json --story MORE.json --out LONGER.mp4 [options]

Appends the shots of MORE.json to a video made with moga generate --save-latent: the old latent is
given as a prefix (kept exactly) and the new shots are generated after it, conditioned on it.
MORE.json is a story file whose fps, width and height match the video's; its shots are appended
(its title, seed and global caption are not used). Needs a model with dit.conditioning.

  --from OUT.json      the settings file generate --save-latent wrote beside OUT.mp4
  --story MORE.json    the shots to append
  --out LONGER.mp4     the longer video; LONGER.json and LONGER.latent.safetensors are saved beside it
  --seed S             noise seed (default: the original's)
  --model DIR          the model (default: the one --from names; it must be the same weights)
  --steps N, --guidance W, --guidance-until T, --noise-correlation R
                       as for generate (default: the original's)
  --backend NAME, --json, --quiet                as for generate
  -h, --help           this text`;

const COMMON = {
  from: { type: 'string' },
  out: { type: 'string' },
  model: { type: 'string' },
  steps: { type: 'string' },
  seed: { type: 'string' },
  ...SAMPLING_OPTIONS,
  backend: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The model --from was made with, unless --model names one. */
function loadFor(saved: SavedGeneration, dir: string | undefined): Promise<MogaModel> {
  const from = saved.model.dir && existsSync(resolve(saved.model.dir)) ? saved.model.dir : undefined;
  return loadModel(dir ?? from ?? bundledModel());
}

/** Disposes the model when `f` throws. */
function orDispose<T>(model: MogaModel, f: () => T): T {
  try {
    return withBackend(model.backend, f);
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** The --steps and sampling flags given, checked (undefined: not given). */
function settings(
  cmd: string,
  values: { steps?: string; guidance?: string; 'guidance-until'?: string; 'noise-correlation'?: string },
): { steps?: number; guidance?: number; guidanceUntil?: number; noiseCorrelation?: number } {
  return { steps: integerAtLeast(cmd, 'steps', values.steps, 1), ...samplingOptions(cmd, values) };
}

async function finish(
  cmd: string,
  values: { out?: string; json?: boolean; quiet?: boolean },
  fromPath: string,
  model: MogaModel,
  story: Story,
  given: GivenFrames,
  run: { seed: number; steps: number; guidance: number; guidanceUntil?: number; noiseCorrelation?: number },
): Promise<void> {
  try {
    const report = await generateToMp4(story, fromPath, model, values.out!, {
      seed: run.seed,
      steps: run.steps,
      guidance: run.guidance,
      guidanceUntil: run.guidanceUntil,
      noiseCorrelation: run.noiseCorrelation,
      quiet: values.quiet,
      saveLatent: true,
      given,
      command: cmd,
    });
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else
      process.stderr.write(
        `wrote ${report.out} (${report.frames} frames, ${report.shots} shots) and ${report.saved?.json}\n`,
      );
  } finally {
    disposeGiven(given);
    model.dispose();
  }
}

function seedOf(cmd: string, v: string | undefined): number | undefined {
  const seed = integerAtLeast(cmd, 'seed', v, 0);
  if (seed !== undefined && seed >= 2 ** 32)
    throw new Error(`${cmd}: --seed must be an integer in [0, 2^32), got '${v}'`);
  return seed;
}

export async function runRegenerate(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...COMMON, shots: { type: 'string' }, caption: { type: 'string', multiple: true } },
  });
  if (values.help) {
    console.log(REGENERATE_HELP);
    return;
  }
  if (!values.from)
    throw new Error('regenerate: --from is required (the OUT.json of generate --save-latent)');
  if (!values.shots) throw new Error('regenerate: --shots is required (e.g. --shots 2 or --shots 2,3)');
  if (!values.out) throw new Error('regenerate: --out is required (an .mp4 path)');
  const shots = values.shots.split(',').map((s) => {
    if (!/^\d+$/.test(s.trim()))
      throw new Error(`regenerate: --shots must be shot numbers like 2,3, got '${values.shots}'`);
    return Number(s);
  });
  const captions = new Map<number, string>();
  for (const c of values.caption ?? []) {
    const m = /^(\d+)=(.*)$/s.exec(c);
    if (!m || m[2].trim() === '') throw new Error(`regenerate: --caption must be SHOT=TEXT, got '${c}'`);
    captions.set(Number(m[1]), m[2]);
  }
  const asked = {
    shots,
    captions,
    seed: seedOf('regenerate', values.seed),
    ...settings('regenerate', values),
  };
  exitOnSignals();
  const { saved, latent } = readGeneration(values.from);
  await chooseBackend(values.backend);
  const model = await loadFor(saved, values.model);
  const r = orDispose(model, () => regeneration(saved, latent, model, asked));
  await finish('regenerate', values, values.from, model, r.story, r.given, r);
}

export async function runExtend(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...COMMON, story: { type: 'string' } } });
  if (values.help) {
    console.log(EXTEND_HELP);
    return;
  }
  if (!values.from) throw new Error('extend: --from is required (the OUT.json of generate --save-latent)');
  if (!values.story) throw new Error('extend: --story is required (a story file with the shots to append)');
  if (!values.out) throw new Error('extend: --out is required (an .mp4 path)');
  exitOnSignals();
  const { saved, latent } = readGeneration(values.from);
  const more = readStory(values.story);
  await chooseBackend(values.backend);
  const asked = settings('extend', values);
  const seed = seedOf('extend', values.seed) ?? saved.seed;
  const model = await loadFor(saved, values.model);
  const { story, given } = orDispose(model, () => {
    checkConditioningModel(model, 'extend', saved);
    return extendGiven(saved, latent, model.codec, more);
  });
  await finish('extend', values, values.from, model, story, given, {
    seed,
    steps: asked.steps ?? saved.steps,
    guidance: asked.guidance ?? saved.guidance,
    guidanceUntil: asked.guidanceUntil ?? saved.guidanceUntil, // undefined: the model's
    noiseCorrelation: asked.noiseCorrelation ?? saved.noiseCorrelation,
  });
}

export const run = runRegenerate;
