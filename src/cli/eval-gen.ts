/**
 * `moga eval gen --model DIR --stories N [--attention moga|full|local] [--truth] [--noise] [--through-codec]
 *  [--out DIR] [--json]`
 * Scores generated videos of held-out world stories with the probes; writes result.json, table.md
 * and contact sheets of the worst and best shots (video | truth pairs) to --out.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../backends/index.js';
import {
  type AttentionMode,
  type EvalGenResult,
  evalGen,
  markdownRow,
  type Source,
  withAttention,
} from '../eval/gen.js';
import { loadProbe } from '../eval/probe-model.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { loadVae } from '../models/vae/checkpoint.js';
import { packageRoot } from '../pipeline/bundled.js';
import { vaeCodec } from '../pipeline/codec.js';
import { loadModel } from '../pipeline/model.js';
import { formatSeconds } from '../train/progress.js';
import { writeContactSheet } from '../video/contact-sheet.js';
import { integerAtLeast, SAMPLING_OPTIONS, samplingOptions } from './options.js';

const HELP = `usage: moga eval gen (--model DIR | --truth [--through-codec] | --noise) [options]

Generates held-out test-split world stories (fixed seeds) at 160x96 through generate(), scores them
with the world probes (models/probe) against the truth regenerated from each story's seed, and
writes result.json, table.md, worst.png and best.png (video | truth, middle frame of each shot).

  --model DIR          model directory (with --noise: decode with its codec)
  --truth              score the world's own renders (the ceiling)
  --through-codec      with --truth: the renders encoded and decoded by the codec (the VAE, or
                       --model's codec): the ceiling of any model generating in that codec
  --noise              score standard-normal latents decoded (the floor; the VAE unless --model)
  --attention MODE     moga (routed+window+frame) | local (window+frame) | full: override the DiT's
                       self-attention branches
  --stories N          stories (default 10; 50 for a published table)
  --seconds S          story length (default 16 s at 24 fps)
  --min-recall-gap G   keep stories with a recall after >= G intervening shots (default 1)
  --first I            first test-split story index tried (default 0)
  --steps N            sampler steps (default: the model's)
  --guidance G         classifier-free guidance scale (default: the model's; 1 = none)
  --guidance-until T   guide only while t > T, one pass per step below (default: the model's, else 0)
  --noise-correlation R   starting noise correlation between a shot's latent frames (default: the model's, else 0)
  --probe DIR          probe checkpoint (default models/probe)
  --vae FILE           VAE for --noise or --through-codec without --model (default models/vae-small/vae.safetensors)
  --out DIR            output directory (default out/eval-<run>)
  --label TEXT         the row's name in table.md
  --backend NAME       native | wasm | ref | cuda (default: the first that starts of native, wasm, ref)
  --json               print result.json on stdout
  -h, --help           this text`;

/** The options that pick the held-out stories and sample them (eval gen and eval cond). */
export const HELD_OUT_OPTIONS = {
  stories: { type: 'string', default: '10' },
  seconds: { type: 'string', default: '16' },
  'min-recall-gap': { type: 'string', default: '1' },
  first: { type: 'string', default: '0' },
  steps: { type: 'string' },
  ...SAMPLING_OPTIONS,
  probe: { type: 'string', default: join(packageRoot(), 'models', 'probe') },
} as const;

/** HELD_OUT_OPTIONS' values, checked; `cmd` names the command in errors. */
export function heldOutOptions(cmd: string, values: { [K in keyof typeof HELD_OUT_OPTIONS]?: string }) {
  const int = (k: 'stories' | 'first' | 'min-recall-gap' | 'steps', min: number) =>
    integerAtLeast(cmd, k, values[k], min);
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 120))
    throw new Error(`${cmd}: --seconds must be in (0, 120], got '${values.seconds}'`);
  return {
    stories: int('stories', 1)!,
    first: int('first', 0),
    minRecallGap: int('min-recall-gap', 0),
    seconds,
    steps: int('steps', 1),
    ...samplingOptions(cmd, values),
  };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      truth: { type: 'boolean' },
      noise: { type: 'boolean' },
      'through-codec': { type: 'boolean' },
      attention: { type: 'string' },
      ...HELD_OUT_OPTIONS,
      vae: { type: 'string', default: join(packageRoot(), 'models', 'vae-small', 'vae.safetensors') },
      out: { type: 'string' },
      label: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.truth && values.noise) throw new Error('eval gen: --truth and --noise exclude each other');
  if (values['through-codec'] && !values.truth) throw new Error('eval gen: --through-codec needs --truth');
  const source: Source = values.truth
    ? values['through-codec']
      ? 'codec'
      : 'truth'
    : values.noise
      ? 'noise'
      : 'model';
  if (source === 'model' && !values.model)
    throw new Error(`eval gen: give --model DIR, --truth or --noise\n\n${HELP}`);
  const { stories, first, minRecallGap, seconds, steps, guidance, guidanceUntil, noiseCorrelation } =
    heldOutOptions('eval gen', values);
  if ([guidance, guidanceUntil, noiseCorrelation, steps].some((v) => v !== undefined) && source !== 'model')
    throw new Error('eval gen: --steps, --guidance, --guidance-until and --noise-correlation need --model');
  const attention = values.attention as AttentionMode | undefined;
  if (attention !== undefined && !['moga', 'local', 'full'].includes(attention))
    throw new Error(`eval gen: --attention must be moga, local or full, got '${attention}'`);
  if (attention && source !== 'model')
    throw new Error('eval gen: --attention needs --model (and no --truth/--noise)');

  const be = await chooseBackend(values.backend);
  const { probe } = loadProbe(values.probe!);
  let model = source !== 'truth' && values.model ? await loadModel(values.model) : undefined;
  if (model && attention) model = withAttention(model, attention);
  const codec =
    source === 'noise' || source === 'codec'
      ? (model?.codec ?? vaeCodec(loadVae(values.vae!).vae))
      : undefined;
  const run =
    source === 'model'
      ? `${values.model!.replace(/\/+$/, '').split('/').pop()}${attention ? `-${attention}` : ''}`
      : source === 'codec'
        ? 'truth-codec'
        : source;
  const label =
    values.label ??
    {
      noise: `noise (${codec?.kind} decode)`,
      truth: 'truth (world render)',
      codec: `truth through the codec (${codec?.kind} round trip)`,
      model: run,
    }[source];
  const out = values.out ?? join('out', `eval-${run}`);
  mkdirSync(out, { recursive: true });

  process.stderr.write(
    `eval gen: ${label}, ${stories} test stories of ${seconds} s at 160x96, backend ${be.name}\n`,
  );
  const r = await evalGen({
    source,
    probe,
    model,
    codec,
    stories,
    first,
    seconds,
    fps: 24,
    width: 160,
    height: 96,
    minRecallGap,
    steps,
    guidance,
    guidanceUntil,
    noiseCorrelation,
    onStory: (d, n, s) =>
      process.stderr.write(
        `eval gen: ${d}/${n} stories, ${((60 * d) / s).toFixed(2)} stories/min, ~${formatSeconds((s / d) * (n - d))} left\n`,
      ),
  });
  const { header, row } = markdownRow(label, r);
  const command = `moga eval gen ${argv.join(' ')}`;
  const sheets = writeSheets(out, r);
  // which weights: a model directory a training run keeps rewriting changes under the same name;
  // the sampling as run: the model's settings with the flags over them
  const flags = { steps, guidance, guidanceUntil, noiseCorrelation };
  const weights = model && {
    dir: values.model,
    steps: (model.config.training?.steps as number | undefined) ?? null,
    sampling: {
      ...model.config.sampling,
      ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
    },
  };
  const json = {
    command,
    label,
    backend: be.name,
    ...(weights ? { model: weights } : {}),
    ...r,
    scores: r.scores.map((s) => ({ ...s, features: undefined })),
    shotFrames: undefined,
    sheets,
  };
  writeFileAtomic(join(out, 'result.json'), `${JSON.stringify(json, null, 2)}\n`);
  const md = [
    `<!-- ${command} -->`,
    header,
    row,
    '',
    `${weights ? `${weights.dir} at step ${weights.steps ?? '?'}; ` : ''}${r.stories.length} stories (test indices ${r.stories.map((s) => s.index).join(', ')}), ${r.adherence.shots} shots, ${r.recall.n} recalls, ${r.cuts.truth} cuts; ${r.wallSeconds.toFixed(0)} s wall on ${r.machine.cpus} x ${r.machine.model}, load ${r.machine.load.map((x) => x.toFixed(2)).join(' ')}.`,
    '',
  ].join('\n');
  writeFileAtomic(join(out, 'table.md'), md);
  if (values.json) console.log(JSON.stringify(json, null, 2));
  else console.log(`${header}\n${row}\n\nwrote ${out}/result.json, table.md, ${sheets.join(', ')}`);
}

/** worst.png and best.png: up to 8 shots each, video beside truth, middle sampled frame. */
function writeSheets(out: string, r: EvalGenResult): string[] {
  const sorted = [...r.shotFrames].sort((a, b) => a.score - b.score || a.story - b.story || a.shot - b.shot);
  const n = Math.min(8, Math.ceil(sorted.length / 2));
  const W = 160;
  const H = 96;
  const files: string[] = [];
  for (const [name, pick] of [
    ['worst.png', sorted.slice(0, n)],
    ['best.png', sorted.slice(-n).reverse()],
  ] as const) {
    if (!pick.length) continue;
    const tiles = pick.flatMap((s) => [s.video, s.truth]);
    writeContactSheet(join(out, name), tiles, W, H, { columns: 4 });
    files.push(name);
  }
  return files;
}
