/** `moga train probe --config configs/probe.json [--steps N] [--max-minutes M] [--out file] [--resume] [--backend B]` */
import { parseArgs } from 'node:util';
import { chooseBackend } from '../backends/index.js';
import { checkProbeRecipe, type ProbeRecipe, trainProbeSteps } from '../eval/probe-train.js';
import { RECIPE_OPTIONS, recipeWithFlags } from './options.js';
import { trainUntilSignal } from './train-signals.js';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: RECIPE_OPTIONS });
  if (values.help || !values.config) {
    console.log(
      'usage: moga train probe --config <recipe.json> [--steps N] [--max-minutes M] [--out file] [--work dir] [--resume] [--backend native|wasm|ref]\n' +
        'then: moga eval probe (held-out accuracy, clean and through the VAE)',
    );
    if (!values.help) throw new Error('train probe: --config is required');
    return;
  }
  const recipe = recipeWithFlags<ProbeRecipe>('train probe', values.config, values);
  checkProbeRecipe(recipe);
  const be = await chooseBackend(values.backend); // default: the first that starts of native, wasm, ref
  console.log(`backend ${be.name}, recipe ${values.config}`);
  await trainUntilSignal('train probe', argv, recipe.work, (signal) =>
    trainProbeSteps(recipe, console.log, { signal }),
  );
}
