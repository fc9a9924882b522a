import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadVae, saveVae } from '../../../src/models/vae/checkpoint.js';
import { VAE_PRESETS, vaeFactors } from '../../../src/models/vae/config.js';
import { newStreamState, type StreamState } from '../../../src/models/vae/layers.js';
import {
  decode,
  denormalizeLatent,
  encode,
  initVideoVAE,
  normalizeLatent,
} from '../../../src/models/vae/vae.js';
import { concat, sliceAxis } from '../../../src/tensor/ops.js';
import { Rng } from '../../../src/tensor/random.js';
import { fromArray, noGrad, type Tensor, tidy } from '../../../src/tensor/tensor.js';

const tiny = VAE_PRESETS.tiny;

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Frames [t0, t1) of a [1, C, T, H, W] array. */
function frames(t: Tensor, t0: number, t1: number): Float32Array {
  return sliceAxis(t, 2, t0, t1).dataSync() as Float32Array;
}

describe('VideoVAE geometry', () => {
  it('compresses 4x8x8 with the first frame alone', () => {
    assert.deepEqual(vaeFactors(VAE_PRESETS.small), { space: 8, time: 4 });
    const vae = initVideoVAE(tiny, 1);
    noGrad(() =>
      tidy(() => {
        const x = new Rng(2).normal([1, 3, 9, 16, 24]);
        const { mean, logvar } = encode(vae, x);
        assert.deepEqual(mean.shape, [1, 4, 3, 2, 3]);
        assert.deepEqual(logvar.shape, [1, 4, 3, 2, 3]);
        assert.deepEqual(decode(vae, mean).video.shape, [1, 3, 9, 16, 24]);
        assert.deepEqual(encode(vae, new Rng(2).normal([1, 3, 1, 8, 8])).mean.shape, [1, 4, 1, 1, 1]);
      }),
    );
  });

  it('rejects bad clips with errors naming the problem', () => {
    const vae = initVideoVAE(tiny, 1);
    noGrad(() =>
      tidy(() => {
        assert.throws(
          () => encode(vae, new Rng(1).normal([1, 3, 8, 16, 16])),
          /got 8 frames; the first chunk needs 1 \+ k \* 4/,
        );
        assert.throws(
          () => encode(vae, new Rng(1).normal([1, 3, 5, 12, 16])),
          /frame size 16x12 must be a multiple of 8/,
        );
        assert.throws(
          () => encode(vae, new Rng(1).normal([1, 4, 5, 16, 16])),
          /expected video \[B, 3, F, H, W\]/,
        );
        assert.throws(
          () => decode(vae, new Rng(1).normal([1, 5, 2, 2, 2])),
          /expected latent \[B, 4, n, h, w\]/,
        );
        const st = encode(vae, new Rng(1).normal([1, 3, 1, 8, 8]), newStreamState()).state!;
        assert.throws(
          () => encode(vae, new Rng(1).normal([1, 3, 5, 8, 8]), st),
          /following chunks need k \* 4/,
        );
      }),
    );
    assert.throws(() => initVideoVAE({ ...tiny, groups: 3 }), /groups \(3\) must divide/);
  });

  it('is causal: later frames never change earlier latents or outputs', () => {
    const vae = initVideoVAE(tiny, 3);
    noGrad(() =>
      tidy(() => {
        const a = new Rng(4).normal([1, 3, 9, 16, 16]);
        const bump = fromArray(
          new Float32Array(3 * 9 * 256).map((_, i) => (Math.floor(i / 256) % 9 >= 5 ? 1 : 0)),
          [1, 3, 9, 16, 16],
        );
        const za = encode(vae, a).mean;
        const zb = encode(vae, concat([sliceAxis(a, 2, 0, 5), sliceAxis(bump, 2, 5, 9)], 2)).mean; // frames 5.. replaced
        assert.equal(maxDiff(frames(za, 0, 2), frames(zb, 0, 2)), 0, 'latents 0..1 cover frames 0..4 only');
        assert.ok(maxDiff(frames(za, 2, 3), frames(zb, 2, 3)) > 0);
        const zc = concat([sliceAxis(za, 2, 0, 2), new Rng(5).normal([1, 4, 1, 2, 2])], 2);
        const ya = decode(vae, za).video;
        const yc = decode(vae, zc).video;
        assert.equal(
          maxDiff(frames(ya, 0, 5), frames(yc, 0, 5)),
          0,
          'frames 0..4 come from latents 0..1 only',
        );
        assert.ok(maxDiff(frames(ya, 5, 9), frames(yc, 5, 9)) > 0);
      }),
    );
  });

  it('latent normalisation round-trips', () => {
    const vae = initVideoVAE(tiny, 1);
    vae.latentStats.mean.backend.write(vae.latentStats.mean.storage, Float32Array.from([0.5, -1, 2, 0]));
    vae.latentStats.std.backend.write(vae.latentStats.std.storage, Float32Array.from([2, 0.5, 1, 3]));
    tidy(() => {
      const z = new Rng(1).normal([1, 4, 2, 2, 2]);
      const n = normalizeLatent(vae, z);
      assert.ok(Math.abs(n.dataSync()[0] - (z.dataSync()[0] - 0.5) / 2) < 1e-6);
      assert.ok(maxDiff(denormalizeLatent(vae, n).dataSync(), z.dataSync()) < 1e-5);
    });
  });
});

describe('VideoVAE streaming', () => {
  it('chunked encode and decode equal one pass', () => {
    const vae = initVideoVAE(tiny, 7);
    noGrad(() =>
      tidy(() => {
        const x = new Rng(8).normal([1, 3, 17, 16, 16]);
        const whole = encode(vae, x).mean;
        let st: StreamState = newStreamState();
        const parts: Tensor[] = [];
        for (const [a, b] of [
          [0, 1],
          [1, 9],
          [9, 13],
          [13, 17],
        ]) {
          const r = encode(vae, sliceAxis(x, 2, a, b), st);
          parts.push(r.mean);
          st = r.state!;
        }
        assert.ok(maxDiff(concat(parts, 2).dataSync(), whole.dataSync()) <= 1e-5);
        const y = decode(vae, whole).video;
        let ds: StreamState = newStreamState();
        const outs: Tensor[] = [];
        for (const [a, b] of [
          [0, 2],
          [2, 3],
          [3, 5],
        ]) {
          const r = decode(vae, sliceAxis(whole, 2, a, b), ds);
          outs.push(r.video);
          ds = r.state!;
        }
        assert.deepEqual(
          outs.map((o) => o.shape[2]),
          [5, 4, 8],
        );
        assert.ok(maxDiff(concat(outs, 2).dataSync(), y.dataSync()) <= 1e-5);
      }),
    );
  });
});

describe('VideoVAE checkpoint', () => {
  it('round-trips weights, latent statistics and config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moga-vae-'));
    try {
      const vae = initVideoVAE(tiny, 11);
      vae.latentStats.std.backend.write(vae.latentStats.std.storage, Float32Array.from([1, 2, 3, 4]));
      saveVae(join(dir, 'v.safetensors'), vae, { info: { step: 3 } });
      const { vae: back, info } = loadVae(join(dir, 'v.safetensors'));
      assert.equal(info.step, 3);
      assert.deepEqual(back.config, tiny);
      assert.deepEqual([...back.latentStats.std.dataSync()], [1, 2, 3, 4]);
      noGrad(() =>
        tidy(() => {
          const z = new Rng(1).normal([1, 4, 2, 1, 1]);
          assert.equal(maxDiff(decode(vae, z).video.dataSync(), decode(back, z).video.dataSync()), 0);
        }),
      );
      saveVae(join(dir, 'h.safetensors'), vae, { dtype: 'F16' });
      assert.ok(
        maxDiff(loadVae(join(dir, 'h.safetensors')).vae.latentStats.std.dataSync(), [1, 2, 3, 4]) === 0,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
