/**
 * The meter with known answers, using the committed probe checkpoint (models/probe): the world's
 * own render scores (nearly) perfectly; recolouring one returning object fails exactly that
 * recall; moving one cut by 10 frames loses exactly that cut; decoded noise scores near chance.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { setBackend } from '../../src/backends/index.js';
import { BACKGROUND_RGB, OBJECT_RGB } from '../../src/data/world/palette.js';
import { makeRenderer } from '../../src/data/world/render.js';
import { COLOURS, type Story } from '../../src/data/world/types.js';
import { evalGen, noiseVideo, roundTripVideo, selectStories } from '../../src/eval/gen.js';
import { adherenceOf, type StoryScore, scoreVideo } from '../../src/eval/metrics.js';
import { loadProbe, type Probe } from '../../src/eval/probe-model.js';
import { loadModel } from '../../src/pipeline/model.js';
import { poolCodec } from '../../src/pipeline/pool-codec.js';
import { trainDit } from '../../src/pipeline/train-dit.js';
import { worldTruthOf } from '../../src/pipeline/world-story.js';
import { microRecipe } from '../pipeline/helpers.js';

let probe: Probe;
let chosen: ReturnType<typeof selectStories>;
let truthScores: StoryScore[];
const renders = new Map<number, Uint8Array[]>();

function render(w: Story): Uint8Array[] {
  const r = makeRenderer(w);
  return Array.from({ length: w.frames }, (_, f) => r.render(f).rgb.slice());
}

before(async () => {
  await setBackend('wasm');
  probe = loadProbe('models/probe').probe;
  chosen = selectStories({ stories: 8, seconds: 12, fps: 24, width: 160, height: 96, minRecallGap: 1 });
  truthScores = chosen.map((c) => {
    // the truth comes back from the story file's seed, as `moga eval gen` does it
    const t = worldTruthOf(c.file);
    assert.ok('world' in t, 'world' in t ? '' : t.mismatch);
    const v = render(t.world);
    renders.set(c.index, v);
    return scoreVideo(probe, t.world, v, 160, 96, v);
  });
});

test("the world's own render: >= 98% on background adherence, every cut, stability 1", () => {
  const a = adherenceOf(truthScores);
  for (const k of ['bgKind', 'bgColour'] as const)
    assert.ok(a[k] >= 0.98, `${k} ${a[k]} over ${a.shots} shots / ${a.objects} objects`);
  for (const s of truthScores) {
    assert.equal(s.cuts.recall, 1, `story ${s.seed} cuts ${s.cuts.truth} detected ${s.cuts.detected}`);
    assert.equal(s.cuts.precision, 1, `story ${s.seed} cuts ${s.cuts.truth} detected ${s.cuts.detected}`);
    assert.equal(s.stability.ratio, 1);
  }
});

// Not met yet at the shot level. The committed probes read objects, shape, colour and pattern at
// >= 98% per frame on clean frames (moga eval probe --stories 20 --clips 2, models/probe/README.md),
// but over these stories' shots shape adherence reads 94.3% (3 of 53 objects; the previous pool-4
// probe 96.2%, 2 of 53): reported as TODO until the shot-level reading is fixed.
test("the world's own render: >= 98% on object adherence (shape, colour, pattern), 100% on recall", {
  todo: 'shot-level shape adherence on the world render below 98% (test/eval/metrics.test.ts)',
}, () => {
  const a = adherenceOf(truthScores);
  for (const k of ['shape', 'colour', 'pattern'] as const)
    assert.ok(a[k] >= 0.98, `${k} ${a[k]} over ${a.objects} objects`);
  const recalls = truthScores.flatMap((s) => s.recalls);
  assert.ok(recalls.length >= 8, `${recalls.length} recalls`);
  for (const r of recalls) assert.ok(r.ok, `recall in shot ${r.shot}: ${JSON.stringify(r)}`);
});

test('the same video with one recall object recoloured fails exactly that recall', () => {
  const k = truthScores.findIndex((s) => s.recalls.length > 0);
  const c = chosen[k];
  const w = c.world;
  const rc = w.recalls[0];
  const shot = w.shots[rc.shot];
  const ch = w.characters[rc.character];
  // the colour furthest from the original and from the shot's background
  const dist = (a: readonly number[], b: readonly number[]) =>
    a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0);
  const bg = BACKGROUND_RGB[shot.background.colour];
  const colour = COLOURS.filter((x) => x !== ch.colour).reduce((best, x) =>
    Math.min(dist(OBJECT_RGB[x], OBJECT_RGB[ch.colour]), dist(OBJECT_RGB[x], bg)) >
    Math.min(dist(OBJECT_RGB[best], OBJECT_RGB[ch.colour]), dist(OBJECT_RGB[best], bg))
      ? x
      : best,
  );
  const edited: Story = {
    ...w,
    characters: w.characters.map((x) => (x.id === ch.id ? { ...x, colour } : x)),
  };
  const r = makeRenderer(edited);
  const video = renders
    .get(c.index)!
    .map((f, i) => (i >= shot.startFrame && i < shot.startFrame + shot.frames ? r.render(i).rgb.slice() : f));
  const s = scoreVideo(probe, w, video, 160, 96, renders.get(c.index)!);
  const failed = s.recalls.find((x) => x.shot === rc.shot)!;
  assert.equal(truthScores[k].recalls.find((x) => x.shot === rc.shot)!.ok, true, 'passes unedited');
  assert.equal(failed.ok, false);
  assert.equal(failed.colour, false);
  assert.equal(failed.consistent, false);
  // every other recall is scored as in the unedited video
  for (const x of s.recalls)
    if (x.shot !== rc.shot)
      assert.equal(
        x.ok,
        truthScores[k].recalls.find((y) => y.shot === x.shot)!.ok,
        `recall in shot ${x.shot}`,
      );
  // the unedited shots keep their scores
  for (const sh of s.shots)
    if (sh.shot !== rc.shot) assert.equal(sh.score, truthScores[k].shots[sh.shot].score, `shot ${sh.shot}`);
});

test('a video with one cut moved by 10 frames loses exactly that cut', () => {
  const k = chosen.findIndex((c) => c.world.cuts.length >= 2);
  const w = chosen[k].world;
  const j = 1; // shot j starts 10 frames late: shot j - 1 goes on
  const shots = w.shots.map((s) => ({ ...s }));
  shots[j - 1].frames += 10;
  shots[j].startFrame += 10;
  shots[j].frames -= 10;
  assert.ok(shots[j].frames > 10);
  const moved: Story = { ...w, shots, cuts: w.cuts.map((c, i) => (i === j - 1 ? c + 10 : c)) };
  const video = render(moved);
  const s = scoreVideo(probe, w, video, 160, 96, renders.get(chosen[k].index)!);
  assert.equal(s.cuts.matched, w.cuts.length - 1, JSON.stringify(s.cuts));
  assert.ok(s.cuts.detected.includes(w.cuts[j - 1] + 10), `detected ${s.cuts.detected}`);
  assert.ok(!s.cuts.detected.some((d) => Math.abs(d - w.cuts[j - 1]) <= 4), `detected ${s.cuts.detected}`);
  assert.equal(s.cuts.recall, (w.cuts.length - 1) / w.cuts.length);
});

test('decoded noise scores near chance', () => {
  const codec = poolCodec();
  const scores = chosen.slice(0, 3).map((c) => {
    const v = noiseVideo(codec, c.file, c.world.seed);
    return scoreVideo(probe, c.world, v, 160, 96, renders.get(c.index)!);
  });
  const a = adherenceOf(scores);
  // chance: kind 1/4, background colour 1/8, shape 1/8, colour 1/8, pattern 1/4
  const limit = { bgKind: 0.5, bgColour: 0.35, shape: 0.35, colour: 0.35, pattern: 0.5 };
  for (const key of Object.keys(limit) as (keyof typeof limit)[])
    assert.ok(a[key] <= limit[key], `${key} ${a[key]}`);
  const recalls = scores.flatMap((s) => s.recalls);
  assert.ok(recalls.filter((r) => r.ok).length <= recalls.length / 2, JSON.stringify(recalls));
  for (const s of scores) assert.ok(s.stability.ratio > 2, `stability ${s.stability.ratio}`);
});

test("evalGen: any source's FD floor is the truth run's FD (the same stories' own renders)", async () => {
  const base = { probe, stories: 2, seconds: 8, fps: 24, width: 160, height: 96 };
  const truth = await evalGen({ ...base, source: 'truth' });
  const noise = await evalGen({ ...base, source: 'noise', codec: poolCodec() });
  assert.deepEqual(
    noise.stories.map((s) => s.seed),
    truth.stories.map((s) => s.seed),
  );
  assert.equal(truth.fd.floor, truth.fd.value);
  assert.equal(noise.fd.floor, truth.fd.value);
  assert.ok(noise.fd.value > noise.fd.floor, `noise FD ${noise.fd.value}, floor ${noise.fd.floor}`);
});

test('evalGen codec: the truth through the codec keeps backgrounds, loses detail and smooth motion', async () => {
  const codec = poolCodec();
  // a flat frame survives the 4x8x8 pool exactly; a one-pixel dot does not
  const flat = Array.from({ length: 9 }, () => new Uint8Array(32 * 16 * 3).fill(200));
  assert.deepEqual(roundTripVideo(codec, flat, 32, 16), flat);
  const dot = flat.map((f) => f.slice());
  dot[4][3 * (16 * 8 + 20)] = 0;
  assert.notDeepEqual(roundTripVideo(codec, dot, 32, 16)[4], dot[4]);
  const base = { probe, stories: 2, seconds: 8, fps: 24, width: 160, height: 96 };
  const r = await evalGen({ ...base, source: 'codec', codec });
  assert.ok(r.adherence.bgColour >= 0.9, `background colour ${r.adherence.bgColour}`);
  // the pool codec holds each 4-frame average: motion comes in steps, so in-shot change rises
  assert.ok(r.stability.ratio > 1.1, `stability ${r.stability.ratio}`);
  await assert.rejects(evalGen({ ...base, source: 'codec' }), /codec needs a codec/);
});

test('evalGen model: --guidance reaches the sampler (two DiT passes per step above 1, one at 1)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-eval-guidance-'));
  try {
    trainDit(microRecipe(dir, { steps: 1 }), { log: () => {} });
    const model = await loadModel(join(dir, 'model'), { backend: 'ref' });
    const base = { probe, stories: 1, seconds: 8, fps: 24, width: 160, height: 96, source: 'model' as const };
    const one = await evalGen({ ...base, model, guidance: 1 });
    const three = await evalGen({ ...base, model, guidance: 3 });
    assert.equal(
      three.cost!.attentionFlops,
      2 * one.cost!.attentionFlops,
      'guidance 3 runs two passes per step',
    );
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
