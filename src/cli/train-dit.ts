/**
 * `moga train dit --config configs/dit-tiny.json [--out DIR] [--steps N] [--max-minutes M]
 *  [--resume] [--export] [--backend native|wasm|ref]`: trains the DiT, text encoder frozen (src/pipeline/train-dit.ts).
 */
import { parseArgs } from 'node:util';
import { chooseBackend } from '../backends/index.js';
import { checkDitRecipe, type DitRecipe, exportDitModel, trainDitSteps } from '../pipeline/train-dit.js';
import { RECIPE_OPTIONS, recipeWithFlags } from './options.js';
import { trainUntilSignal } from './train-signals.js';

const HELP = `usage: moga train dit --config <recipe.json> [options]

Trains the video DiT (rectified flow; the text encoder stays frozen) on latents of synthetic
world clips; latents are cached, checkpoints resume exactly, the EMA weights are written as a
model directory that \`moga generate --model\` loads.

  --config FILE      the recipe (configs/dit-tiny.json)
  --out DIR          model directory to write (default: the recipe's out)
  --work DIR         resumable checkpoints (default: the recipe's work)
  --steps N          optimizer steps (default: the recipe's)
  --max-minutes M    stop and save after M minutes (default: the recipe's)
  --codec pool|vae   override the recipe's codec (pool = the 4x8x8 average-pool stand-in)
  --resume           continue from the checkpoint in --work
                     (Ctrl-C or SIGTERM stops after the current step with a checkpoint;
                     a second one stops at once)
  --export           write the model directory (--out) from the checkpoint in --work
                     and stop: no training, no latents (for a lost or unwritten model)
  --backend NAME     native, wasm or ref (default: the first that starts)
  -h, --help         this text`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...RECIPE_OPTIONS, codec: { type: 'string' }, export: { type: 'boolean' } },
  });
  if (values.help || !values.config) {
    console.log(HELP);
    if (!values.help) throw new Error('train dit: --config is required');
    return;
  }
  if (values.codec !== undefined && values.codec !== 'pool' && values.codec !== 'vae')
    throw new Error(`train dit: --codec must be pool or vae, got '${values.codec}'`);
  const { resume, ...fromFile } = recipeWithFlags<DitRecipe & { resume?: boolean }>(
    'train dit',
    values.config,
    values,
  );
  const recipe: DitRecipe = {
    ...fromFile,
    ...(values.codec === 'pool' ? { codec: { kind: 'pool' } as const } : {}),
  };
  checkDitRecipe(recipe);
  const backend = (await chooseBackend(values.backend)).name;
  process.stderr.write(`train dit: backend ${backend}, codec ${recipe.codec.kind}, out ${recipe.out}\n`);
  if (values.export) {
    console.log(
      JSON.stringify({ event: 'done', ...exportDitModel(recipe, (s) => process.stderr.write(`${s}\n`)) }),
    );
    return;
  }
  const command = `moga train dit ${argv.join(' ')}`;
  const r = await trainUntilSignal('train dit', argv, recipe.work, (signal) =>
    trainDitSteps(recipe, { resume, command, signal }),
  );
  console.log(JSON.stringify({ event: 'done', ...r }));
}
