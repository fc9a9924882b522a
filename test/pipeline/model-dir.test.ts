/**
 * Model directories: a re-export replaces the weights atomically and keeps the hand-written card;
 * names in a config that select code (attention branches, sampler, codec) are checked on load.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { generate } from '../../src/pipeline/generate.js';
import { initModel, loadModel, type ModelConfig, openCodec, saveModel } from '../../src/pipeline/model.js';
import { modelConfigOf, vaeOf } from '../../src/pipeline/train-dit.js';
import { parseStory } from '../../src/story/story.js';
import { microConfig, microRecipe, TWO_SHOTS } from './helpers.js';

test('saveModel over an existing directory keeps its README.md (the model card)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'moga-model-dir-'));
  try {
    const dir = join(root, 'm');
    saveModel(dir, initModel(microConfig(), 1));
    writeFileSync(join(dir, 'README.md'), '# card\n');
    saveModel(dir, initModel({ ...microConfig(), training: { steps: 7 } }, 2));
    assert.equal(readFileSync(join(dir, 'README.md'), 'utf8'), '# card\n');
    assert.equal((await loadModel(dir)).config.training?.steps, 7);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an unknown attention branch, sampler or codec name is refused, listing the valid names', async () => {
  const c = microConfig();
  const bad: [ModelConfig, RegExp][] = [
    // before: an unknown branch silently ran dense attention
    [
      {
        ...c,
        dit: { ...c.dit, attention: { ...c.dit.attention, branches: ['routed', 'windows' as never] } },
      },
      /unknown attention branch 'windows' \(valid: routed, window, frame, full\)/,
    ],
    [
      { ...c, sampling: { ...c.sampling, sampler: { kind: 'heun' } as never } },
      /unknown sampler "heun" \(valid: euler, dpm-solver\+\+\)/,
    ],
    [{ ...c, codec: { kind: 'vqgan' } as never }, /codec: unknown kind "vqgan" \(valid: vae, pool/],
  ];
  for (const [config, re] of bad) assert.throws(() => initModel(config), re);
  // from a directory, the error names the file
  const root = mkdtempSync(join(tmpdir(), 'moga-model-dir-'));
  try {
    const dir = join(root, 'm');
    saveModel(dir, initModel(c, 1));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(bad[0][0]));
    await assert.rejects(loadModel(dir), /config\.json: VisualAttention: unknown attention branch 'windows'/);
    // a sampler passed in code fails at the first step, with the same message
    await assert.rejects(
      generate(parseStory(TWO_SHOTS), initModel(c, 1), { sampler: { kind: 'ddim' } as never }),
      /unknown sampler "ddim" \(valid: euler, dpm-solver\+\+\)/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a trained model exported outside models/ carries a copy of its VAE and loads; inside models/ it names it', async () => {
  const root = mkdtempSync(join(tmpdir(), 'moga-model-vae-'));
  try {
    const recipe = microRecipe(root, { codec: { kind: 'vae', path: 'models/vae-small/vae.safetensors' } });
    const out = join(root, 'model');
    const vae = vaeOf(recipe, out)!;
    assert.deepEqual(vae, { path: 'vae.safetensors', copyFrom: resolve('models/vae-small/vae.safetensors') });
    const config = modelConfigOf(recipe, out);
    const codec = openCodec(recipe.codec, process.cwd());
    saveModel(out, initModel(config, 1, codec), 'F16', { [vae.path]: vae.copyFrom! });
    const model = await loadModel(out);
    assert.equal(model.codec.kind, 'vae');
    model.dispose();
    // beside the VAE in models/, the relative path the bundled model uses, and no copy
    assert.deepEqual(vaeOf(recipe, 'models/dit-other'), { path: '../vae-small/vae.safetensors' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
