/** `moga train probe --config configs/probe.json [--steps N] [--max-minutes M] [--out file] [--resume] [--backend B]` */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setBackend } from '../backends/index.js';
import { checkProbeRecipe, type ProbeRecipe, trainProbe } from '../eval/probe-train.js';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      steps: { type: 'string' },
      'max-minutes': { type: 'string' },
      out: { type: 'string' },
      work: { type: 'string' },
      resume: { type: 'boolean' },
      backend: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.config) {
    console.log(
      'usage: moga train probe --config <recipe.json> [--steps N] [--max-minutes M] [--out file] [--work dir] [--resume] [--backend wasm|ref]\n' +
        'then: moga eval probe (held-out accuracy, clean and through the VAE)',
    );
    if (!values.help) throw new Error('train probe: --config is required');
    return;
  }
  let recipe: ProbeRecipe;
  try {
    recipe = JSON.parse(readFileSync(values.config, 'utf8')) as ProbeRecipe;
  } catch (e) {
    throw new Error(`train probe: cannot read recipe ${values.config}: ${(e as Error).message}`);
  }
  const num = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`train probe: --${what} must be a positive number, got '${v}'`);
    return n;
  };
  recipe = {
    ...recipe,
    steps: num(values.steps, 'steps') ?? recipe.steps,
    maxMinutes: num(values['max-minutes'], 'max-minutes') ?? recipe.maxMinutes,
    out: values.out ?? recipe.out,
    work: values.work ?? recipe.work,
    resume: values.resume ?? recipe.resume,
  };
  checkProbeRecipe(recipe);
  const be = await setBackend(values.backend ?? 'wasm');
  console.log(`backend ${be.name}, recipe ${values.config}`);
  trainProbe(recipe);
}
