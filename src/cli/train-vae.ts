/** `moga train vae --config configs/vae-small.json [--steps N] [--max-minutes M] [--resume] [--backend B]` */
import { parseArgs } from 'node:util';
import { chooseBackend } from '../backends/index.js';
import { checkRecipe, trainVaeSteps, type VaeRecipe } from '../models/vae/train.js';
import { RECIPE_OPTIONS, recipeWithFlags } from './options.js';
import { trainUntilSignal } from './train-signals.js';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: RECIPE_OPTIONS });
  if (values.help || !values.config) {
    console.log(
      'usage: moga train vae --config <recipe.json> [--steps N] [--max-minutes M] [--out file] [--work dir] [--resume] [--backend native|wasm|ref]',
    );
    if (!values.help) throw new Error('train vae: --config is required');
    return;
  }
  const recipe = recipeWithFlags<VaeRecipe>('train vae', values.config, values);
  checkRecipe(recipe);
  console.log(`backend ${(await chooseBackend(values.backend)).name}`);
  await trainUntilSignal('train vae', argv, recipe.work, (signal) =>
    trainVaeSteps(recipe, console.log, { signal }),
  );
}
