import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readSafetensors, writeSafetensors } from '../../../src/io/safetensors.js';
import { loadVae } from '../../../src/models/vae/checkpoint.js';
import { temporalError } from '../../../src/models/vae/loss.js';
import { checkRecipe, trainVae, type VaeRecipe } from '../../../src/models/vae/train.js';
import { fromArray } from '../../../src/tensor/tensor.js';
import { findCheckpoint } from '../../../src/train/checkpoint.js';

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
      const steps = lines.filter((l) => l.startsWith('step '));
      assert.equal(steps.length, 3);
      for (const l of steps) assert.match(l, /loss \d+\.\d+ mse \d+\.\d+ psnr \d+\.\d+ .* kl \d/);
      assert.ok(findCheckpoint(join(dir, 'work')), 'a resumable checkpoint in work/');
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
        more.some((l) => /resuming from .*work/.test(l)),
        more.join('\n'),
      );
      assert.deepEqual(
        more.filter((l) => l.startsWith('step ')).map((l) => l.split(' ')[1]),
        ['4/4'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resumes exactly: 4 steps equal 2 steps, a stop, a resume and 2 more, bit for bit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moga-vae-resume-'));
    try {
      const work = (d: string) => readSafetensors(join(dir, d, 'work', 'model.safetensors')).tensors;
      const r = (d: string): VaeRecipe => ({ ...recipe(join(dir, d)), steps: 4, checkpointEvery: 100 });
      trainVae(r('a'), () => {});
      /** Stops after 2 steps as SIGINT would (the schedule still spans 4), then resumes. */
      const interrupted = (d: string, tamper: () => void = () => {}) => {
        const stop = new AbortController();
        trainVae(r(d), (l) => l.startsWith('step 2/') && stop.abort(), { signal: stop.signal });
        tamper();
        trainVae({ ...r(d), resume: true }, () => {});
        return work(d);
      };
      const a = work('a');
      const b = interrupted('b');
      assert.ok(a.size > 10);
      for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, name);
      // the comparison can fail: a resume that restarts AdamW's moments lands elsewhere
      const c = interrupted('c', () => {
        const opt = join(dir, 'c', 'work', 'optimizer.safetensors');
        const f = readSafetensors(opt);
        writeSafetensors(
          opt,
          [...f.tensors].map(([n, t]) => [n, { ...t, data: new Float32Array(t.data.length) }]),
        );
      });
      assert.notDeepEqual(c.get('encoder.convIn.weight')!.data, a.get('encoder.convIn.weight')!.data);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('decoder only: from init, the encoder and latent statistics stay bit for bit, the decoder learns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moga-vae-decoder-'));
    try {
      const base = { ...recipe(join(dir, 'a')), steps: 2 };
      trainVae(base, () => {});
      const init = base.out;
      const lines: string[] = [];
      const r: VaeRecipe = {
        ...recipe(join(dir, 'b')),
        steps: 2,
        init,
        train: 'decoder',
        loss: { ...base.loss, temporal: 1 },
      };
      trainVae(r, (l) => lines.push(l));
      assert.ok(
        lines.filter((l) => l.startsWith('step ')).every((l) => / temporal \d+\.\d+ /.test(l)),
        lines.join('\n'),
      );
      const a = readSafetensors(init).tensors;
      const b = readSafetensors(r.out).tensors;
      let decoderMoved = false;
      for (const [name, t] of a) {
        if (name.startsWith('decoder.')) decoderMoved ||= t.data.some((v, i) => v !== b.get(name)!.data[i]);
        else assert.deepEqual(b.get(name)!.data, t.data, `${name} must not change`);
      }
      assert.ok(decoderMoved, 'the decoder trained');
      assert.throws(() => checkRecipe({ ...r, init: undefined }), /train "decoder" needs init/);
      assert.throws(
        () => trainVae({ ...r, model: 'small' }, () => {}),
        /has another config than the recipe's model/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the temporal error: 0 for an error constant in time, the flicker amplitude for one that alternates', () => {
    const shape = [1, 1, 4, 1, 2];
    assert.equal(temporalError(fromArray([3, 3, 3, 3, 3, 3, 3, 3], shape)).item(), 0);
    // frames alternate +0.5 / -0.5 on one pixel: every change is 1 there, 0 on the other pixel
    const flicker = temporalError(fromArray([0.5, 0, -0.5, 0, 0.5, 0, -0.5, 0], shape)).item();
    assert.ok(Math.abs(flicker - 0.5) < 1e-7, `flicker ${flicker}`);
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
