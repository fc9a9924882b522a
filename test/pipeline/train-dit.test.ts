/**
 * `trainDit` on a micro recipe: latents are cached once per codec and clip spec, training resumes
 * from its checkpoint, and the result is a model directory that loads and generates.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.js';
import { saveVae } from '../../src/models/vae/checkpoint.js';
import { vaePresetOrConfig } from '../../src/models/vae/config.js';
import { initVideoVAE } from '../../src/models/vae/vae.js';
import { namedTensors } from '../../src/nn/params-file.js';
import { generate } from '../../src/pipeline/generate.js';
import { loadModel } from '../../src/pipeline/model.js';
import { checkDitRecipe, exportDitModel, latentCacheDir, trainDit } from '../../src/pipeline/train-dit.js';
import { parseStory } from '../../src/story/story.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { microRecipe, TWO_SHOTS } from './helpers.js';

test('trainDit: cached latents, resume, and a model directory that generates', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-train-dit-'));
  try {
    const recipe = microRecipe(dir);
    const lines: string[] = [];
    const log = (s: string) => lines.push(s);
    const a = trainDit(recipe, { command: 'test', log });
    assert.equal(a.step, 2);
    assert.ok(
      lines.some((l) => l.startsWith('encode  3/3 clips')),
      lines.join('\n'),
    );
    const cached = readdirSync(join(dir, 'cache'));
    assert.equal(cached.length, 1);
    assert.throws(() => trainDit(recipe, { log }), /already holds a checkpoint; pass --resume/);
    const b = trainDit({ ...recipe, steps: 3 }, { resume: true, log });
    assert.equal(b.step, 3);
    assert.ok(
      lines.some((l) => l.startsWith('latents: 3 clips read from')),
      'the second run reads the cache',
    );
    const cfg = JSON.parse(readFileSync(join(dir, 'model', 'config.json'), 'utf8'));
    assert.equal(cfg.training.steps, 3);
    assert.deepEqual(
      cfg.training.history.map((h: { fromStep: number; toStep: number }) => [h.fromStep, h.toStep]),
      [
        [0, 2],
        [2, 3],
      ],
      'every run of the recipe is in the model history',
    );
    assert.equal(cfg.training.history[0].command, 'test');
    assert.equal(cfg.codec.kind, 'pool');
    assert.equal(cfg.prediction, 'data');
    const model = await loadModel(join(dir, 'model'), { backend: 'ref' });
    // the model holds the EMA weights (as F16) and the checkpoint's live weights are untouched
    const ema = readSafetensors(join(dir, 'work', 'ema.safetensors')).tensors;
    const live = readSafetensors(join(dir, 'work', 'model.safetensors')).tensors;
    for (const [name, t] of namedTensors({ dit: model.dit.params })) {
      const saved = t.dataSync();
      const e = ema.get(name)!.data;
      saved.forEach((v, i) => assert.ok(Math.abs(v - e[i]) <= 1e-3 * (1 + Math.abs(e[i])), `${name}[${i}]`));
    }
    const w = 'dit.patchEmbed.weight';
    assert.notDeepEqual(ema.get(w)!.data, live.get(w)!.data, 'EMA and live weights differ after 3 steps');
    const r = await generate(parseStory(TWO_SHOTS), model, {});
    assert.equal(r.frames, 25);
    // --export rewrites a lost model directory from the checkpoint: the same weights and history
    const weights = readFileSync(join(dir, 'model', 'dit.safetensors'));
    rmSync(join(dir, 'model'), { recursive: true });
    assert.deepEqual(exportDitModel(recipe), { step: 3, out: join(dir, 'model') });
    assert.ok(
      readFileSync(join(dir, 'model', 'dit.safetensors')).equals(weights),
      'the EMA weights, as training wrote them',
    );
    const exported = JSON.parse(readFileSync(join(dir, 'model', 'config.json'), 'utf8'));
    assert.deepEqual(exported.training.history, cfg.training.history);
    assert.equal(exported.training.weights, 'EMA');
    assert.throws(() => exportDitModel({ ...recipe, work: join(dir, 'none') }), /holds no checkpoint/);
    assert.ok(existsSync(join(dir, 'work', 'state.json')));
    assert.throws(
      () => checkDitRecipe({ ...recipe, data: { ...recipe.data, frames: 10 } }),
      /data\.frames must be 1 \+ 4k/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trainDit: a recipe with init starts a deeper model from another run, recorded in its history', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-train-dit-init-'));
  try {
    const log = () => {};
    const src = microRecipe(dir);
    trainDit(src, { log });
    const grown = microRecipe(dir, {
      dit: { ...src.dit, layers: 2 },
      work: join(dir, 'work2'),
      out: join(dir, 'model2'),
      steps: 1,
      init: { checkpoint: src.work, weights: 'ema' },
    });
    trainDit(grown, { log });
    const cfg = JSON.parse(readFileSync(join(dir, 'model2', 'config.json'), 'utf8'));
    assert.equal(cfg.dit.layers, 2);
    assert.deepEqual(
      cfg.training.history.map((h: { fromStep: number; toStep: number }) => [h.fromStep, h.toStep]),
      [
        [0, 2],
        [0, 1],
      ],
      "the source's runs come first",
    );
    assert.deepEqual(cfg.training.history[1].initFrom, { checkpoint: src.work, weights: 'ema', step: 2 });
    // the grown run's first checkpoint moved on from the source's EMA weights by one step
    const ema = readSafetensors(join(src.work, 'ema.safetensors')).tensors;
    const live = readSafetensors(join(grown.work, 'model.safetensors')).tensors;
    const w = 'dit.blocks.0.selfAttn.q.weight';
    const a = ema.get(w)!.data;
    const b = live.get(w)!.data;
    const moved = Math.max(...Array.from(b, (v, i) => Math.abs(v - a[i])));
    assert.ok(moved > 0 && moved < 0.05, `one step from the source's weights (moved ${moved})`);
    assert.ok(live.has('dit.blocks.1.selfAttn.q.weight'));
    assert.throws(
      () =>
        trainDit(
          { ...grown, work: join(dir, 'work3'), init: { checkpoint: join(dir, 'none'), weights: 'ema' } },
          { log },
        ),
      /init\.checkpoint .*none holds no checkpoint/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a DiT recipe with an unknown branch, sampler or codec is refused, listing the valid names', () => {
  const r = microRecipe('/nonexistent');
  assert.throws(
    () =>
      checkDitRecipe({
        ...r,
        dit: { ...r.dit, attention: { ...r.dit.attention!, branches: ['dense' as never] } },
      }),
    /dit recipe: VisualAttention: unknown attention branch 'dense' \(valid: routed, window, frame, full\)/,
  );
  assert.throws(
    () => checkDitRecipe({ ...r, generation: { ...r.generation, sampler: { kind: 'ddpm' } as never } }),
    /dit recipe: unknown sampler "ddpm" \(valid: euler, dpm-solver\+\+\)/,
  );
  assert.throws(
    () => checkDitRecipe({ ...r, codec: { kind: 'taesd' } as never }),
    /dit recipe: codec: unknown kind "taesd" \(valid: vae, pool/,
  );
  assert.throws(
    () => checkDitRecipe({ ...r, prediction: 'noise' as never }),
    /dit recipe: prediction must be one of velocity, data, preconditioned/,
  );
  for (const prediction of ['velocity', 'data', 'preconditioned'] as const)
    checkDitRecipe({ ...r, prediction });
  checkDitRecipe(r);
});

test('the latent cache is keyed by the VAE encoder and latent statistics: a decoder-only change keeps it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-cache-key-'));
  try {
    const path = (n: string) => join(dir, `${n}.safetensors`);
    const vae = initVideoVAE(vaePresetOrConfig('tiny'), 3);
    saveVae(path('a'), vae);
    const bump = (t: Tensor) =>
      t.backend.write(
        t.storage,
        (t.dataSync() as Float32Array).map((v) => v + 0.01),
      );
    bump(vae.params.decoder.convOut.weight);
    saveVae(path('decoder'), vae);
    bump(vae.params.encoder.convIn.weight);
    saveVae(path('encoder'), vae);
    const key = (n: string) => latentCacheDir(microRecipe(dir, { codec: { kind: 'vae', path: path(n) } }));
    assert.equal(key('decoder'), key('a'), 'a new decoder reuses the latents');
    assert.notEqual(key('encoder'), key('a'), 'a new encoder makes new latents');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trainDit: an abort while latents are encoding stops after the clip in hand, keeping it cached', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-train-abort-encode-'));
  try {
    const r = microRecipe(dir);
    const ctl = new AbortController();
    ctl.abort('SIGTERM'); // before the first clip: the loop must look after each clip
    const lines: string[] = [];
    const res = trainDit(r, { signal: ctl.signal, log: (s) => lines.push(s) });
    assert.deepEqual(res, { step: 0, minutes: 0, finalLoss: null, out: r.out, stopped: 'signal' });
    const cached = readdirSync(latentCacheDir(r)).filter((f) => f.endsWith('.safetensors'));
    assert.deepEqual(cached, ['clip-0.safetensors'], 'the clip in hand is kept, no more are encoded');
    assert.equal(existsSync(r.work), false, 'no checkpoint: nothing was trained');
    assert.ok(
      lines.some((l) => /stopped while encoding: 1 of 3 clips cached/.test(l)),
      lines.join('\n'),
    );
    // the next run goes on from the cache and trains
    assert.equal(trainDit(r, { log: () => {} }).stopped, 'steps');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
