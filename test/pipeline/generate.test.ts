/**
 * generate() end to end on a tiny random-init model: a 2-shot, 1-second story gives the right
 * number of frames of the right size, reproducibly from the seed, streamed in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VAE_PRESETS } from '../../src/models/vae/config.js';
import { initVideoVAE } from '../../src/models/vae/vae.js';
import { vaeCodec } from '../../src/pipeline/codec.js';
import { generate } from '../../src/pipeline/generate.js';
import { latentLayout } from '../../src/pipeline/layout.js';
import { initModel } from '../../src/pipeline/model.js';
import { poolCodec } from '../../src/pipeline/pool-codec.js';
import { parseStory } from '../../src/story/story.js';
import { sliceAxis } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray } from '../../src/tensor/tensor.js';
import { moveOffInit } from '../models/micro-dit.js';
import { microConfig, TWO_SHOTS } from './helpers.js';

test('latent layout of a minute and of a short 2-shot story', () => {
  const minute = parseStory({
    ...TWO_SHOTS,
    width: 224,
    height: 128,
    shots: [
      { caption: 'a', seconds: 24 },
      { caption: 'b', seconds: 36 },
    ],
  });
  const l = latentLayout(minute, { space: 8, time: 4 });
  assert.equal(l.frames, 1441);
  assert.equal(l.latentFrames, 361);
  assert.deepEqual([l.height, l.width], [16, 28]);
  // cut at frame 576 = 4 * 144: latent 144 covers 573..576 (one new frame), 145 covers 577..580
  assert.deepEqual(l.shotStarts, [0, 145]);
  assert.deepEqual(l.shotFrames, [145, 216]);
  const s = latentLayout(parseStory(TWO_SHOTS), { space: 8, time: 4 });
  assert.equal(s.frames, 25);
  assert.equal(s.latentFrames, 7);
  assert.deepEqual(s.shotStarts, [0, 4]); // cut at frame 12: latent 3 = 9..12, latent 4 = 13..16
  assert.throws(
    () =>
      latentLayout(
        parseStory({
          ...TWO_SHOTS,
          shots: [
            { caption: 'a', seconds: 1 },
            { caption: 'b', seconds: 1 / 24 },
            { caption: 'c', seconds: 1 / 24 },
          ],
        }),
        { space: 8, time: 4 },
      ),
    /story shot 1 \(starting at frame 24 of 27\) is too short: it owns no latent frame/,
  );
});

test('generate: a cut on a decode-chunk border (latent 5 = frame 17, chunk 4)', async () => {
  const story = parseStory({
    ...TWO_SHOTS,
    shots: [
      { caption: 'a red circle rests on a blue wall, wide shot', seconds: 17 / 24 },
      { caption: 'a white star spins in front of a navy sky, close-up', seconds: 16 / 24 },
    ],
  });
  const r = await generate(story, initModel(microConfig(), 1), { decodeChunk: 4, steps: 1, guidance: 1 });
  assert.deepEqual(r.layout.shotStarts, [0, 5]);
  assert.deepEqual([r.frames, r.video!.length], [34, 34]);
});

test('generate: a 2-shot, 1-second story on a tiny random model gives 25 frames of 64x32', async () => {
  const model = initModel(microConfig(), 1);
  const story = parseStory(TWO_SHOTS);
  const seen: number[] = [];
  const events = new Set<string>();
  const r = await generate(story, model, {
    onFrame: (rgb, i) => {
      assert.equal(rgb.length, 64 * 32 * 3);
      seen.push(i);
    },
    collect: true,
    decodeChunk: 2,
    onProgress: (e) => events.add(`${e.stage}:${e.done}/${e.total}`),
  });
  assert.equal(r.frames, 25);
  assert.equal(r.video!.length, 25);
  assert.deepEqual(
    seen,
    Array.from({ length: 25 }, (_, i) => i),
  );
  assert.deepEqual([r.width, r.height, r.fps], [64, 32, 24]);
  assert.ok(events.has('sample:2/2') && events.has('decode:25/25'), [...events].join(' '));
  // seeded: the same seed gives the same video, another seed a different one
  const again = await generate(story, model, {});
  assert.deepEqual(again.video![24], r.video![24]);
  const other = await generate(story, model, { seed: 6 });
  assert.notDeepEqual(other.video![24], r.video![24]);
  assert.equal(r.guidanceUntil, 0, "the model's default: guided at every step");
  await assert.rejects(
    generate(story, model, { guidanceUntil: 1.5 }),
    /guidanceUntil must be a number in \[0, 1\], got 1.5/,
  );
});

test('pool codec: encode/decode keeps flat colour blocks, and streams in chunks like one pass', () => {
  const codec = poolCodec();
  const F = 9;
  const H = 16;
  const W = 16;
  const x = new Float32Array(3 * F * H * W);
  for (let c = 0; c < 3; c++)
    for (let f = 0; f < F; f++)
      for (let y = 0; y < H; y++)
        for (let xx = 0; xx < W; xx++)
          x[((c * F + f) * H + y) * W + xx] = ((y < 8 ? 0.5 : -0.25) * (c + 1)) / 3;
  const z = codec.encode(fromArray(x, [3, F, H, W]));
  assert.deepEqual(z.shape, [16, 3, 2, 2]);
  const one = codec.decoder().push(z).dataSync();
  const d = codec.decoder();
  const a = d.push(sliceAxis(z, 1, 0, 2)).dataSync();
  const b = d.push(sliceAxis(z, 1, 2, 3)).dataSync();
  assert.equal(a.length + b.length, one.length);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(one[i] - x[i]) < 1e-5, `pixel ${i}`);
});

test('generate with a (tiny, untrained) VAE codec: chunked streaming decode keeps its causal cache', async () => {
  const vae = initVideoVAE(VAE_PRESETS.tiny, 1);
  const cfg = microConfig();
  const model = initModel({ ...cfg, dit: { ...cfg.dit, latentChannels: 4 } }, 1, vaeCodec(vae));
  const story = parseStory(TWO_SHOTS);
  const chunked = await generate(story, model, { decodeChunk: 1 });
  const whole = await generate(story, model, { decodeChunk: 8 });
  assert.equal(chunked.frames, 25);
  assert.equal(chunked.codec, 'vae');
  // the causal VAE decodes chunk by chunk exactly as in one pass (up to float rounding)
  let maxDiff = 0;
  for (let f = 0; f < 25; f++)
    for (let i = 0; i < chunked.video![f].length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(chunked.video![f][i] - whole.video![f][i]));
  assert.ok(maxDiff <= 1, `chunked and whole decodes differ by ${maxDiff} levels`);
});

test('generate: guidanceUntil reaches the sampler (the last step unguided changes the video)', async () => {
  const model = initModel(microConfig(), 1);
  moveOffInit(model.dit, new Rng(3), 0.2); // so the caption moves the output and guidance matters
  const story = parseStory(TWO_SHOTS);
  // the micro model: 2 Euler steps at shift 1 evaluate t = 1 and 0.5
  const [all, until, above] = await Promise.all(
    [0, 0.6, 0.4].map((u) => generate(story, model, { guidanceUntil: u, collect: true })),
  );
  assert.equal(until.guidanceUntil, 0.6);
  assert.notDeepEqual(until.video![24], all.video![24], 'step 2 (t 0.5) unguided: another video');
  assert.deepEqual(above.video![24], all.video![24], 'until 0.4: both steps guided, the same video');
});

test("generate: noiseCorrelation reaches the sampler (the model's default, an override, steadier latents)", async () => {
  const cfg = microConfig();
  const plain = initModel(cfg, 1);
  moveOffInit(plain.dit, new Rng(3), 0.2);
  const steady = initModel({ ...cfg, sampling: { ...cfg.sampling, noiseCorrelation: 0.9 } }, 1);
  moveOffInit(steady.dit, new Rng(3), 0.2); // the same weights: only the default differs
  const story = parseStory(TWO_SHOTS);
  const run = async (model: typeof plain, noiseCorrelation?: number) => {
    let latent: { data: Float32Array; shape: readonly number[] } | undefined;
    const r = await generate(story, model, {
      noiseCorrelation,
      collect: true,
      onLatent: (data, shape) => (latent = { data, shape }),
    });
    return { r, latent: latent! };
  };
  const iid = await run(plain);
  const byDefault = await run(steady);
  const asked = await run(plain, 0.9);
  const back = await run(steady, 0);
  assert.equal(iid.r.noiseCorrelation, 0, 'absent from the config: 0');
  assert.equal(byDefault.r.noiseCorrelation, 0.9, "the model's default");
  assert.deepEqual(byDefault.r.video![24], asked.r.video![24], 'the default and the same value asked agree');
  assert.notDeepEqual(asked.r.video![24], iid.r.video![24], 'correlated noise: another video');
  assert.deepEqual(back.r.video![24], iid.r.video![24], '0 asked overrides the default');
  // shot 0's latent frames change less from one to the next with correlated starting noise
  const change = ({ data, shape }: { data: Float32Array; shape: readonly number[] }, frames: number[]) => {
    const [C, F, H, W] = shape;
    let s = 0;
    for (let c = 0; c < C; c++)
      for (const f of frames)
        for (let i = 0; i < H * W; i++)
          s += (data[(c * F + f + 1) * H * W + i] - data[(c * F + f) * H * W + i]) ** 2;
    return s;
  };
  const shot0 = [0, 1, 2]; // latent frames 0-3 are shot 0 (latentLayout of TWO_SHOTS)
  assert.equal(latentLayout(story, plain.codec).shotStarts[1], 4);
  assert.ok(
    change(asked.latent, shot0) < 0.5 * change(iid.latent, shot0),
    `in-shot latent change ${change(asked.latent, shot0)} vs ${change(iid.latent, shot0)}`,
  );
  await assert.rejects(
    generate(story, plain, { noiseCorrelation: 1 }),
    /noiseCorrelation must be a number in \[0, 1\), got 1/,
  );
  plain.dispose();
  steady.dispose();
});
