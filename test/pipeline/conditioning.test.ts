/**
 * Regenerate, extend and image-to-video on a micro model with dit.conditioning and the pool codec
 * (pipeline/conditioning.ts over generate's `given`), and the saved latent they start from.
 *
 * Which video frames may change. The pool codec decodes each latent frame to its own video frames
 * (latent 0 -> frame 0, latent i -> frames 4i-3..4i; models/latent-layout.ts `videoFramesOf`) and
 * nothing else, so exactly the frames of regenerated latent frames may differ. A story cut falls
 * inside a latent frame (the cut rule gives that latent frame to the shot holding at least half of
 * it), so those frames can include a neighbour's first or last video frames: in TWO_SHOTS shot 1
 * starts at video frame 12, which latent frame 3 (frames 9..12, shot 0's) decodes. Regenerating
 * shot 1 (latent 4..6) may change frames 13..24 only; frame 12, shot 1's first, stays. A causal
 * VAE would carry a regenerated shot into the frames after it through its causal cache, so generate
 * takes the frames of kept latent frames from the saved latent's own decode (`GivenFrames.whole`):
 * the same rule holds there (the VAE test below).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { roundTripVideo } from '../../src/eval/gen.js';
import { disposeGiven } from '../../src/models/dit/dit.js';
import { videoFramesOf } from '../../src/models/latent-layout.js';
import { VAE_PRESETS } from '../../src/models/vae/config.js';
import { initVideoVAE } from '../../src/models/vae/vae.js';
import { vaeCodec } from '../../src/pipeline/codec.js';
import {
  decodeLatent,
  ditIdentity,
  extendGiven,
  imageGiven,
  readGeneration,
  readSavedSettings,
  regenerateGiven,
  regeneration,
  saveGeneration,
} from '../../src/pipeline/conditioning.js';
import { generate, toRgbFrames } from '../../src/pipeline/generate.js';
import { initModel, type MogaModel } from '../../src/pipeline/model.js';
import { parseStory, type Story } from '../../src/story/story.js';
import { framesToTensor } from '../../src/tensor/frames.js';
import { Rng } from '../../src/tensor/random.js';
import { coverImage, decodePng, encodePng } from '../../src/video/png.js';
import { moveOffInit } from '../models/micro-dit.js';
import { microConfig, TWO_SHOTS } from './helpers.js';

function conditionedModel(): MogaModel {
  const c = microConfig();
  const model = initModel({ ...c, dit: { ...c.dit, conditioning: true } }, 1);
  moveOffInit(model.dit, new Rng(4), 0.05); // every path, the conditioning columns included, carries something
  return model;
}

async function run(story: Story, model: MogaModel, opts: Parameters<typeof generate>[2] = {}) {
  let latent: Float32Array | undefined;
  let shape: readonly number[] = [];
  const r = await generate(story, model, {
    steps: 2,
    guidance: 1,
    collect: true,
    onLatent: (d, s) => {
      latent = d;
      shape = s;
    },
    ...opts,
  });
  return { frames: r.video!, latent: latent!, shape, seed: r.seed };
}

/** What generate --save-latent would have saved for `orig` (run's settings), kept in memory. */
function savedInMemory(story: Story, orig: Awaited<ReturnType<typeof run>>, model: MogaModel) {
  return {
    format: 'moga-generation' as const,
    version: 1 as const,
    story,
    seed: orig.seed,
    steps: 2,
    guidance: 1,
    shift: 1,
    sampler: { kind: 'euler' as const },
    model: { dir: null, dit: ditIdentity(model), codec: model.codec.kind },
    latent: { file: 'x', shape: orig.shape },
  };
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

test('generate saves its latent and settings; regenerate keeps every frame outside the regenerated latent frames', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-cond-'));
  try {
    const model = conditionedModel();
    const story = parseStory(TWO_SHOTS);
    const orig = await run(story, model);
    const out = join(dir, 'out.mp4');
    saveGeneration(
      out,
      {
        story,
        seed: orig.seed,
        steps: 2,
        guidance: 1,
        shift: 1,
        sampler: { kind: 'euler' },
        model: { dir: null, dit: ditIdentity(model), codec: 'pool' },
      },
      orig.latent,
      orig.shape,
    );
    const { saved, latent } = readGeneration(join(dir, 'out.json'));
    assert.deepEqual(Array.from(latent), Array.from(orig.latent), 'the saved latent reads back bit for bit');
    assert.deepEqual(saved.latent.shape, [16, 7, 4, 8], 'latent shape');
    assert.equal(saved.model.dit, ditIdentity(model), 'model identity');

    for (const [shot, changed] of [
      [1, [13, 24]], // latent 4..6
      [0, [0, 12]], // latent 0..3: frame 12 is shot 1's first, decoded from shot 0's latent 3
    ] as const) {
      const { story: s2, given } = regenerateGiven(
        saved,
        latent,
        model.codec,
        [shot],
        new Map([[shot, 'a white star spins in front of a navy sky, close-up']]),
      );
      const lo = shot === 1 ? 4 : 0;
      const hi = shot === 1 ? 7 : 4;
      assert.deepEqual(
        given.frames,
        Array.from({ length: 7 }, (_, f) => (f >= lo && f < hi ? 0 : 1)),
        `shot ${shot}: given frames`,
      );
      assert.deepEqual(
        [videoFramesOf(lo, 4)[0], videoFramesOf(hi - 1, 4)[1] - 1],
        [...changed],
        'the video frames of the regenerated latent frames',
      );
      const next = await run(s2, model, { given, seed: 77 });
      const k = next.shape[2] * next.shape[3];
      next.latent.forEach((v, i) => {
        const f = Math.floor(i / k) % 7;
        if (given.frames[f]) assert.equal(v, orig.latent[i], `kept latent frame ${f} changed at ${i}`);
      });
      let differs = 0;
      next.frames.forEach((rgb, f) => {
        if (f < changed[0] || f > changed[1])
          assert.ok(same(rgb, orig.frames[f]), `shot ${shot} regenerated: kept video frame ${f} changed`);
        else if (!same(rgb, orig.frames[f])) differs++;
      });
      assert.ok(differs > 0, `shot ${shot} regenerated: none of frames ${changed} changed`);
      given.latent.dispose();
    }
    assert.throws(
      () => regenerateGiven(saved, latent, model.codec, [2]),
      /shot 2 does not exist \(the story has shots 0..1\)/,
    );
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A conditioned micro model on a tiny random VAE, whose causal decoder carries context. */
function vaeConditionedModel(): MogaModel {
  const c = microConfig();
  const model = initModel(
    { ...c, dit: { ...c.dit, latentChannels: 4, conditioning: true } },
    1,
    vaeCodec(initVideoVAE(VAE_PRESETS.tiny, 1)),
  );
  moveOffInit(model.dit, new Rng(4), 0.05);
  return model;
}

test('regenerate through a causal VAE: the kept frames after the shot are the original video byte for byte', async () => {
  const model = vaeConditionedModel();
  const story = parseStory(TWO_SHOTS);
  const orig = await run(story, model);
  const saved = savedInMemory(story, orig, model);
  // shot 0 is latent 0..3 (video frames 0..12); shot 1's frames 13..24 are kept
  const after = (r: { frames: Uint8Array[] }) =>
    r.frames.slice(13).filter((rgb, i) => !same(rgb, orig.frames[13 + i]));
  const { given } = regenerateGiven(saved, orig.latent, model.codec, [0]);
  assert.equal(given.whole, true, 'regenerate gives a whole latent');
  const next = await run(story, model, { given, seed: 77 });
  assert.equal(after(next).length, 0, 'kept frames after the regenerated shot changed');
  assert.ok(
    next.frames.slice(0, 13).some((rgb, i) => !same(rgb, orig.frames[i])),
    'shot 0 was regenerated',
  );
  // the same given frames decoded as one stream: the VAE's causal cache carries shot 0 on
  const stream = await run(story, model, { given: { ...given, whole: false }, seed: 77 });
  assert.ok(after(stream).length > 0, "this VAE's decoder carries no context, so the test shows nothing");
  given.latent.dispose();
  model.dispose();
});

test("image to video through a causal VAE: a later shot's given first frame decodes as the VAE's round trip of the still", async () => {
  const model = vaeConditionedModel();
  const story = parseStory(TWO_SHOTS);
  const rgb = Uint8Array.from(new Rng(9).uniformArray(64 * 32 * 3), (u) => Math.floor(256 * u));
  const given = imageGiven(story, model.codec, [{ shot: 1, at: 'first', rgb }]);
  assert.deepEqual(
    given.restarts?.map((r) => r.frame),
    [4],
    "shot 1's first latent frame decodes afresh",
  );
  // shot 1's first latent frame (4) decodes to video frames 13..16; the still held 5 frames
  // decodes to its frames 1..4 from that same latent frame
  const own = roundTripVideo(
    model.codec,
    Array.from({ length: 5 }, () => rgb),
    64,
    32,
  ).slice(1);
  const worst = (frames: Uint8Array[]) =>
    Math.max(...own.map((o, i) => Math.max(...o.map((v, j) => Math.abs(v - frames[13 + i][j])))));
  const next = await run(story, model, { given });
  assert.ok(
    worst(next.frames) <= 1,
    `the given frame decoded ${worst(next.frames)} levels off the round trip`,
  );
  // decoded after shot 0's frames instead, the same latent frame comes out otherwise
  const after = await run(story, model, { given: { ...given, restarts: undefined } });
  assert.ok(worst(after.frames) > 1, "this VAE's decoder carries no context, so the test shows nothing");
  disposeGiven(given);
  model.dispose();
});

test('extend: the old latent is a given prefix; the old video frames come back byte for byte', async () => {
  const model = conditionedModel();
  const story = parseStory(TWO_SHOTS);
  const orig = await run(story, model);
  const saved = savedInMemory(story, orig, model);
  const more = parseStory({
    ...TWO_SHOTS,
    shots: [{ caption: 'a green square rests on a pink floor', seconds: 0.5 }],
  });
  const { story: longer, given, prefix } = extendGiven(saved, orig.latent, model.codec, more);
  assert.equal(longer.shots.length, 3, 'shots appended');
  assert.equal(prefix, 7, 'the whole old latent is the prefix (25 = 1 + 4 * 6 frames)');
  assert.deepEqual(given.frames, [1, 1, 1, 1, 1, 1, 1, 0, 0, 0], 'given frames');
  const next = await run(longer, model, { given });
  assert.equal(next.frames.length, 37, 'frames of 1.5 s at 24 fps');
  for (let f = 0; f < 25; f++) assert.ok(same(next.frames[f], orig.frames[f]), `old frame ${f} changed`);
  assert.ok(
    next.frames.slice(25).some((rgb) => !same(rgb, orig.frames[24])),
    'the new shot is generated, not a copy of the last frame',
  );
  assert.throws(
    () => extendGiven(saved, orig.latent, model.codec, { ...more, fps: 12 }),
    /fps 12, the video being extended 24; they must match/,
  );
  model.dispose();
});

// guidanceUntil and noiseCorrelation: optional fields of version 1, read and defaulted alike
for (const [field, value, asked, range, bad] of [
  ['guidanceUntil', 0.3, 0.6, '\\[0, 1\\]', 'late'],
  ['noiseCorrelation', 0.9, 0.5, '\\[0, 1\\)', 1],
] as const)
  test(`${field}: saved when given, absent in older files (the model default), regeneration defaults to the saved one`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'moga-cond-until-'));
    const model = conditionedModel();
    try {
      const story = parseStory(TWO_SHOTS);
      const shape = [16, 7, 4, 8];
      const latent = new Float32Array(16 * 7 * 4 * 8);
      const settings = {
        story,
        seed: 5,
        steps: 2,
        guidance: 2,
        shift: 1,
        sampler: { kind: 'euler' as const },
        model: { dir: null, dit: ditIdentity(model), codec: 'pool' },
      };
      const regen = (json: string, req: Record<string, number> = {}) => {
        const r = regeneration(readSavedSettings(join(dir, json)), latent, model, { shots: [1], ...req });
        r.given.latent.dispose();
        return r;
      };
      saveGeneration(join(dir, 'with.mp4'), { ...settings, [field]: value }, latent, shape);
      assert.equal(JSON.parse(readFileSync(join(dir, 'with.json'), 'utf8'))[field], value, 'written');
      assert.equal(regen('with.json')[field], value, 'default: the saved one');
      assert.equal(regen('with.json', { [field]: asked })[field], asked, 'asked: overrides');
      assert.equal(regen('with.json', { [field]: 0 })[field], 0, '0 is a value, not a default');

      saveGeneration(join(dir, 'old.mp4'), settings, latent, shape); // a file from before the field
      assert.equal(field in JSON.parse(readFileSync(join(dir, 'old.json'), 'utf8')), false);
      assert.equal(regen('old.json')[field], undefined, "absent: undefined, the model's default");
      assert.equal(regen('old.json', { [field]: asked })[field], asked);

      const wrong = { ...JSON.parse(readFileSync(join(dir, 'with.json'), 'utf8')), [field]: bad };
      writeFileSync(join(dir, 'bad.json'), JSON.stringify(wrong));
      assert.throws(
        () => readSavedSettings(join(dir, 'bad.json')),
        new RegExp(`bad\\.json: ${field} must be a number in ${range}, got ${JSON.stringify(bad)}`),
      );
    } finally {
      model.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('image to video: the decoded first (last) frames are the codec round trip of the image', async () => {
  const model = conditionedModel();
  const story = parseStory(TWO_SHOTS);
  // an 80x48 gradient PNG, resized and cropped to the story's 64x32
  const W0 = 80;
  const H0 = 48;
  const src = new Uint8Array(W0 * H0 * 3).map((_, i) =>
    i % 3 === 0 ? (i / 3) % W0 : i % 3 === 1 ? 3 * Math.floor(i / 3 / W0) : 200,
  );
  const img = decodePng(encodePng(src, W0, H0), 'gradient.png');
  assert.deepEqual(Array.from(img.rgb), Array.from(src), 'PNG round trip');
  const rgb = coverImage(img, 64, 32);
  const given = imageGiven(story, model.codec, [
    { shot: 0, at: 'first', rgb },
    { shot: 1, at: 'last', rgb },
  ]);
  assert.deepEqual(given.frames, [1, 0, 0, 0, 0, 0, 1], 'shot 0 first latent frame, shot 1 last');
  const out = await run(story, model, { given });
  const first = toRgbFrames(
    decodeLatent(model.codec, model.codec.encode(framesToTensor([rgb], 64, 32, 'CFHW'))),
  );
  assert.ok(same(out.frames[0], first[0]), 'frame 0 is not the round trip of the image');
  const still = toRgbFrames(
    decodeLatent(model.codec, model.codec.encode(framesToTensor([rgb, rgb, rgb, rgb, rgb], 64, 32, 'CFHW'))),
  );
  for (let j = 0; j < 4; j++)
    assert.ok(
      same(out.frames[21 + j], still[1 + j]),
      `frame ${21 + j} (latent 6) is not the image's round trip`,
    );
  assert.ok(!same(out.frames[5], first[0]), 'frames not given are generated');
  model.dispose();
});

test('PNG reader: refuses what it does not read, naming the file', () => {
  const png = encodePng(new Uint8Array(4 * 4 * 3), 4, 4);
  assert.throws(() => decodePng(new Uint8Array([1, 2, 3]), 'a.jpg'), /a.jpg: not a PNG file/);
  const palette = Buffer.from(png);
  palette[25] = 3; // IHDR colour type
  assert.throws(() => decodePng(palette, 'p.png'), /p.png: PNG colour type 3 \(palette\) is not read/);
  const deep = Buffer.from(png);
  deep[24] = 16;
  assert.throws(() => decodePng(deep, 'd.png'), /PNG bit depth 16 is not read/);
});
