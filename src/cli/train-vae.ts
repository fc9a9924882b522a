/** `moga train vae --config configs/vae-small.json [--steps N] [--max-minutes M] [--resume] [--backend B]` */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkRecipe, trainVae, type VaeRecipe } from '../models/vae/train.js';
import { chooseBackend } from './backend.js';

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
      'usage: moga train vae --config <recipe.json> [--steps N] [--max-minutes M] [--out file] [--work dir] [--resume] [--backend native|wasm|ref]',
    );
    if (!values.help) throw new Error('train vae: --config is required');
    return;
  }
  let recipe: VaeRecipe;
  try {
    recipe = JSON.parse(readFileSync(values.config, 'utf8')) as VaeRecipe;
  } catch (e) {
    throw new Error(`train vae: cannot read recipe ${values.config}: ${(e as Error).message}`);
  }
  const num = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`train vae: --${what} must be a number, got '${v}'`);
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
  checkRecipe(recipe);
  console.log(`backend ${await chooseBackend(values.backend)}`);
  trainVae(recipe);
}
