/**
 * Correlated training noise (objective.ts `noiseCorrelation`, recipe `noiseCorrelation`): the
 * network sees x_t made with diffusion/noise.ts `frameNoise` over the example's shots, drawn from
 * the same normals as independent noise (so a run resumes on the same random stream with it on or
 * off), in the per-example and the batched paths alike; a recipe refuses a correlation outside [0, 1).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameNoise } from '../../src/diffusion/noise.js';
import { type Denoiser, trainingLoss } from '../../src/models/dit/objective.js';
import { checkDitRecipe } from '../../src/pipeline/train-dit.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, type Tensor, tidy } from '../../src/tensor/tensor.js';
import { microRecipe } from '../pipeline/helpers.js';

test('trainingLoss: x_t carries frameNoise over the shots; the random stream is the same for any correlation', () =>
  tidy(() => {
    const shape = [2, 6, 3, 3]; // C, F, H, W: zero latents, so x_t = t e
    const latents = fromArray(new Float32Array(2 * 6 * 9), shape);
    const caption = new Rng(5).normal([2, 8]);
    const text = { shots: [3, 3].map((frames) => ({ frames, caption })) };
    const seen: Float32Array[] = [];
    const net: Denoiser = {
      textDim: 8,
      condition: () => ({
        run: (xs: Tensor[]) => {
          for (const x of xs) seen.push(Float32Array.from(x.dataSync() as Float32Array));
          return { velocities: xs.map(() => latents), balanceLosses: [] };
        },
        dispose() {},
      }),
    };
    const opts = {
      prediction: 'data' as const,
      sampling: { kind: 'uniform' as const },
      captionDropout: 0,
    };
    for (const batched of [false, true])
      for (const rho of [0, 0.9]) {
        seen.length = 0;
        const rng = new Rng(1);
        trainingLoss(net, [{ latents, text }], rng, { ...opts, batched, noiseCorrelation: rho });
        // replay the draws: the time first, then the example's noise
        const replay = new Rng(1);
        const t = replay.uniformArray(1)[0];
        const e = frameNoise(replay, shape, rho, [0, 3]).dataSync() as Float32Array;
        seen[0].forEach((v, i) =>
          assert.ok(Math.abs(v - t * e[i]) < 1e-5, `batched ${batched}, rho ${rho}: x_t[${i}]`),
        );
        const after = new Rng(1);
        trainingLoss(net, [{ latents, text }], after, { ...opts, batched });
        assert.deepEqual(
          rng.uniformArray(3),
          after.uniformArray(3),
          `batched ${batched}, rho ${rho}: the stream after`,
        );
      }
  }));

test('a recipe refuses a noise correlation outside [0, 1), in training and in generation', () => {
  assert.throws(
    () => checkDitRecipe(microRecipe('/tmp/x', { noiseCorrelation: 1 })),
    /noiseCorrelation must be a number in \[0, 1\), got 1/,
  );
  const r = microRecipe('/tmp/x');
  assert.throws(
    () => checkDitRecipe({ ...r, generation: { ...r.generation, noiseCorrelation: -0.5 } }),
    /generation\.noiseCorrelation must be a number in \[0, 1\), got -0\.5/,
  );
  checkDitRecipe(microRecipe('/tmp/x', { noiseCorrelation: 0.95 }));
});
