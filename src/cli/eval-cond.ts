/**
 * `moga eval cond --model DIR --stories N [--tasks image,regenerate,extend] [--out DIR] [--json]`
 * Measures image to video, shot regeneration and extension (eval/cond.ts) on held-out world stories;
 * writes result.json and table.md to --out.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../backends/index.js';
import { COND_TASKS, type CondTask, type EvalCondResult, evalCond, type Paired } from '../eval/cond.js';
import { loadProbe } from '../eval/probe-model.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { checkConditioningModel } from '../pipeline/conditioning.js';
import { loadModel } from '../pipeline/model.js';
import { formatSeconds } from '../train/progress.js';
import { HELD_OUT_OPTIONS, heldOutOptions } from './eval-gen.js';

const HELP = `usage: moga eval cond --model DIR [options]

Measures the conditioning uses of a model with dit.conditioning on held-out test-split world
stories (the selection of moga eval gen), each beside the model's plain generation of the story:
  image       the true first frame of a shot given as its first latent frame: PSNR of the decoded
              frames against it (the VAE's own round trip beside), the shot's objects found by the
              probes (shape and colour right)
  regenerate  the first recall shot resampled, the rest kept: the returning object's colour, and
              how many kept frames changed
  extend      the shots starting in the first half generated, then extended by the rest: recalls
              and cuts of the whole
Writes result.json and table.md.

  --model DIR          model directory (needs dit.conditioning)
  --tasks LIST         comma-separated, of image, regenerate, extend (default all)
  --stories N          stories (default 10; 50 for a published table)
  --seconds S          story length (default 16 s at 24 fps)
  --min-recall-gap G   keep stories with a recall after >= G intervening shots (default 1)
  --first I            first test-split story index tried (default 0)
  --steps N            sampler steps (default: the model's)
  --guidance G, --guidance-until T, --noise-correlation R   sampling (default: the model's)
  --probe DIR          probe checkpoint (default models/probe)
  --out DIR            output directory (default out/eval-cond-<model>)
  --backend NAME       native | wasm | ref | cuda (default: the first that starts)
  --json               print result.json on stdout
  -h, --help           this text`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      tasks: { type: 'string', default: COND_TASKS.join(',') },
      ...HELD_OUT_OPTIONS,
      out: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (!values.model) throw new Error(`eval cond: give --model DIR\n\n${HELP}`);
  const tasks = values.tasks!.split(',').map((t) => t.trim());
  for (const t of tasks)
    if (!COND_TASKS.includes(t as CondTask))
      throw new Error(`eval cond: --tasks: unknown task '${t}' (known: ${COND_TASKS.join(', ')})`);
  const o = heldOutOptions('eval cond', values);
  const { stories, seconds } = o;

  const be = await chooseBackend(values.backend);
  const { probe } = loadProbe(values.probe!);
  const model = await loadModel(values.model);
  checkConditioningModel(model, 'eval cond');
  const name = values.model.replace(/\/+$/, '').split('/').pop();
  const out = values.out ?? join('out', `eval-cond-${name}`);
  mkdirSync(out, { recursive: true });
  process.stderr.write(
    `eval cond: ${tasks.join(', ')} on ${stories} test stories of ${seconds} s at 160x96, backend ${be.name}\n`,
  );
  const r = await evalCond({
    model,
    probe,
    tasks: tasks as CondTask[],
    stories,
    first: o.first,
    seconds,
    fps: 24,
    width: 160,
    height: 96,
    // regenerate resamples a recall shot, so every story needs one
    minRecallGap: Math.max(1, o.minRecallGap!),
    sampling: {
      steps: o.steps,
      guidance: o.guidance,
      guidanceUntil: o.guidanceUntil,
      noiseCorrelation: o.noiseCorrelation,
    },
    onStory: (d, n, s) =>
      process.stderr.write(
        `eval cond: ${d}/${n} stories, ${((60 * d) / s).toFixed(2)} stories/min, ~${formatSeconds((s / d) * (n - d))} left\n`,
      ),
  });
  const command = `moga eval cond ${argv.join(' ')}`;
  const json = {
    command,
    backend: be.name,
    model: { dir: values.model, steps: (model.config.training?.steps as number | undefined) ?? null },
    ...r,
  };
  writeFileAtomic(join(out, 'result.json'), `${JSON.stringify(json, null, 2)}\n`);
  const md = `<!-- ${command} -->\n${condTable(name!, r)}\n`;
  writeFileAtomic(join(out, 'table.md'), md);
  if (values.json) console.log(JSON.stringify(json, null, 2));
  else console.log(`${md}\nwrote ${out}/result.json, table.md`);
}

const pct = (n: number, d: number) => (d ? `${((100 * n) / d).toFixed(1)}%` : 'n/a');
const pair = (p: Paired) => `${pct(p.plain, p.n)} | ${pct(p.cond, p.n)} | ${p.n}`;

/** The result as Markdown: one row per measured figure, plain generation beside conditioned. */
export function condTable(model: string, r: EvalCondResult): string {
  const rows = ['| task | figure | plain | conditioned | of |', '|---|---|---|---|---|'];
  if (r.image) {
    const i = r.image;
    rows.push(
      `| image | PSNR of the given latent frame's frames (dB) | ${i.vaePsnr.toFixed(2)} (VAE round trip) | ${i.psnr.toFixed(2)} | ${i.cases.length} |`,
      `| image | shot objects found (shape and colour) | ${pair(i.objects)} |`,
      `| image | cases with every object found | ${pair(i.allFound)} |`,
      `| image | shot objects' colour | ${pair(i.colour)} |`,
    );
  }
  if (r.regenerate) {
    const g = r.regenerate;
    rows.push(
      `| regenerate | recalled object's colour | ${pair(g.colour)} |`,
      `| regenerate | recalled object's colour and pattern | ${pair(g.ok)} |`,
      `| regenerate | kept frames changed (furthest ${g.maxSpill} frames past the shot) | - | ${g.keptChanged} | ${g.kept} |`,
    );
  }
  if (r.extend) {
    const e = r.extend;
    const c = e.cuts;
    rows.push(
      `| extend | recall (colour and pattern) | ${pair(e.recall)} |`,
      `| extend | cut precision | ${pct(c.plain.matched, c.plain.detected)} | ${pct(c.cond.matched, c.cond.detected)} | detected ${c.plain.detected} / ${c.cond.detected} |`,
      `| extend | cut recall | ${pct(c.plain.matched, c.truth)} | ${pct(c.cond.matched, c.truth)} | ${c.truth} |`,
    );
  }
  const when = `${r.wallSeconds.toFixed(0)} s wall on ${r.machine.cpus} x ${r.machine.model}, load ${r.machine.load.map((x) => x.toFixed(2)).join(' ')}`;
  return `${rows.join('\n')}\n\n${model}: ${r.stories.length} stories (test indices ${r.stories.map((s) => s.index).join(', ')}); ${when}.`;
}
