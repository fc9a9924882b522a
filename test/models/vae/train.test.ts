import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadVae } from '../../../src/models/vae/checkpoint.js';
import { checkRecipe, trainVae, type VaeRecipe } from '../../../src/models/vae/train.js';

const recipe = (dir: string): VaeRecipe => ({
  model: 'tiny',
  seed: 1,
  steps: 3,
  batch: 2,
  lr: 1e-3,
  minLrRatio: 0.1,
  warmup: 1,
  weightDecay: 0,
  clipNorm: 1,
  frames: 5,
  crop: [16, 16],
  size: [32, 24],
  storyPool: 10,
  loss: { l1: 1, mse: 1, grad: 0.5, kl: 1e-6 },
  maxMinutes: 5,
  checkpointEvery: 2,
  statsClips: 1,
  out: join(dir, 'final', 'vae.safetensors'),
  work: join(dir, 'work'),
});

describe('VAE training recipe', () => {
  it('trains a few steps on world clips and writes a checkpoint with latent statistics', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moga-vae-train-'));
    try {
      const lines: string[] = [];
      trainVae(recipe(dir), (l) => lines.push(l));
      assert.equal(lines.filter((l) => l.startsWith('step ')).length, 3);
      for (const l of lines.filter((s) => s.startsWith('step '))) assert.match(l, /loss \d+\.\d+ mse \d/);
      assert.ok(existsSync(join(dir, 'work', 'vae-work.safetensors')));
      const { vae, info } = loadVae(join(dir, 'final', 'vae.safetensors'));
      assert.equal(info.step, 3);
      const std = vae.latentStats.std.dataSync();
      assert.ok(
        [...std].every((s) => s > 0 && Number.isFinite(s)) && [...std].some((s) => s !== 1),
        'latent std measured',
      );
      // Resuming continues from the work checkpoint's step.
      const more: string[] = [];
      trainVae({ ...recipe(dir), steps: 4, resume: true }, (l) => more.push(l));
      assert.ok(
        more.some((l) => /resumed .* at step 3/.test(l)),
        more.join('\n'),
      );
      assert.equal(more.filter((l) => l.startsWith('step ')).length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad recipe naming the field', () => {
    assert.throws(() => checkRecipe({ ...recipe('/tmp/x'), frames: 8 }), /frames must be 1 \+ 4k/);
    assert.throws(
      () => checkRecipe({ ...recipe('/tmp/x'), crop: [20, 16] }),
      /crop 20,16 must be multiples of 8/,
    );
    assert.throws(
      () => checkRecipe({ ...recipe('/tmp/x'), model: 'huge' as never }),
      /unknown VAE preset 'huge'/,
    );
  });
});
