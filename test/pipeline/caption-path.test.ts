/**
 * The caption reaches the picture: trained on two clips through the shipped `trainDit`, the DiT's
 * prediction at pure noise must be the clip its caption names. This pins the dead caption path:
 * the clip picker used only clip 0 of 2 (float32 uniforms times 2^31 are multiples of 128), and
 * the jointly trained text encoder collapsed to a constant, so captions changed the bundled
 * model's output by 2e-5. The clips carry global captions, under which the encoder collapsed fastest.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { videoDiT } from '../../src/models/dit/dit.js';
import { initModel, loadModel } from '../../src/pipeline/model.js';
import { encodeShots } from '../../src/pipeline/story-text.js';
import { trainDit } from '../../src/pipeline/train-dit.js';
import { worldClip } from '../../src/pipeline/world-clips.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray } from '../../src/tensor/tensor.js';
import { relL2 } from '../helpers/compare.js';
import { microRecipe } from './helpers.js';

test('two clips sharing a layout: at pure noise, each caption predicts its own clip', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-caption-path-'));
  try {
    const data = {
      clips: 2,
      frames: 9,
      width: 64,
      height: 32,
      fps: 24,
      minSeconds: 6,
      maxSeconds: 12,
      globalProb: 1,
    };
    const recipe = microRecipe(dir, {
      data,
      steps: 300,
      lr: 2e-3,
      warmup: 20,
      emaDecay: 0,
      captionDropout: 0,
      timeSampling: { kind: 'logit-normal', shift: 3 },
      checkpointEvery: 300,
    });
    trainDit(recipe, { log: () => {} });
    const model = await loadModel(join(dir, 'model'), { backend: 'ref' });
    const clips = [0, 1].map((i) => worldClip(i, data));
    const [a, b] = clips;
    assert.notEqual(a.captions[0], b.captions[0]);
    assert.deepEqual(
      a.shotFrames,
      b.shotFrames,
      'the clips must share a layout, or it alone tells them apart',
    );
    const { width, height, frames } = data;
    const latentFrames = a.shotFrames.reduce((s, f) => s + f, 0);
    const x = new Rng(5).normal([model.dit.config.latentChannels, latentFrames, height / 8, width / 8]);
    // at pure noise only the text tells the clips apart: x0_hat must be that clip's latent, and
    // without positions in the input, its per-channel means (the colours) are what can be checked
    const means = (z: ArrayLike<number>) => {
      const per = z.length / model.dit.config.latentChannels;
      return Array.from({ length: model.dit.config.latentChannels }, (_, c) => {
        let s = 0;
        for (let i = 0; i < per; i++) s += z[c * per + i];
        return s / per;
      });
    };
    const truth = clips.map((c) =>
      means(model.codec.encode(fromArray(c.video, [3, frames, height, width])).dataSync()),
    );
    clips.forEach((c, i) => {
      const text = encodeShots(model.captions, c.captions, c.shotFrames, c.global);
      const pred = means(videoDiT(model.dit, { latents: x, t: 1, text }).velocity.dataSync());
      const own = relL2(pred, truth[i]);
      const other = relL2(pred, truth[1 - i]);
      assert.ok(
        own < 0.5 * other,
        `clip ${i}'s caption: prediction is ${own.toFixed(3)} from its own clip's colours and ${other.toFixed(3)} from the other's`,
      );
    });
    // the text encoder is frozen: the saved one is the initial one (up to the F16 of the file)
    const enc = (m: typeof model) => m.captions.encode([a.captions[0]])[0].embeddings.dataSync();
    assert.ok(relL2(enc(model), enc(initModel(model.config, recipe.seed))) < 2e-3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
