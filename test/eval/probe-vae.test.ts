/**
 * VAE augmentation of the probe training (`augment.vae`, src/eval/probe-vae-pool.ts): the pool is
 * built once and read back from its cache; with prob 1 every training frame is a decoded frame
 * (pixels differ from the render) while its truth (heat map, background, object labels) is that of
 * the rendered frame; with prob 0 the batch is exactly the batch of the recipe without the pool.
 * A tiny random VAE stands in for models/vae-small (the mechanics do not depend on its quality).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setBackend } from '../../src/backends/index.js';
import { makeRenderer } from '../../src/data/world/render.js';
import { splitSeed } from '../../src/data/world/splits.js';
import { generateStory } from '../../src/data/world/story.js';
import {
  BACKGROUND_COLOURS,
  BACKGROUND_KINDS,
  COLOURS,
  PATTERNS,
  SHAPES,
} from '../../src/data/world/types.js';
import { coverageGrid, isScorable, poolFrame, visibleObjects } from '../../src/eval/frames.js';
import { makeProbeBatch, type ProbeRecipe, trainProbeSteps } from '../../src/eval/probe-train.js';
import { loadOrBuildVaePool, type VaePool } from '../../src/eval/probe-vae-pool.js';
import { saveVae } from '../../src/models/vae/checkpoint.js';
import { VAE_PRESETS } from '../../src/models/vae/config.js';
import { initVideoVAE } from '../../src/models/vae/vae.js';
import { runToEnd } from '../../src/train/loop.js';

let dir: string;
let base: ProbeRecipe;
let pool: VaePool;
const withVae = (prob: number): ProbeRecipe => ({
  ...base,
  augment: {
    ...base.augment,
    vae: { path: join(dir, 'vae.safetensors'), prob, pool: 2, clipFrames: 5, cache: join(dir, 'pool.bin') },
  },
});

before(async () => {
  await setBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'moga-probe-vae-'));
  saveVae(join(dir, 'vae.safetensors'), initVideoVAE(VAE_PRESETS.tiny, 3));
  const file = JSON.parse(readFileSync('configs/probe.json', 'utf8')) as ProbeRecipe;
  base = { ...file, frames: 4, work: join(dir, 'work'), augment: { ...file.augment, vae: undefined } };
  const lines: string[] = [];
  const r = withVae(1);
  const p = runToEnd(loadOrBuildVaePool(r.augment.vae!, { ...r, ...r.model }, (l) => lines.push(l)));
  assert.ok(p, 'the pool was built');
  pool = p;
  assert.ok(
    lines.some((l) => l.includes('cached in')),
    `the pool is written to its cache: ${lines.join(' | ')}`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the VAE pool is read back from its cache, identical', () => {
  const lines: string[] = [];
  const r = withVae(1);
  const again = runToEnd(loadOrBuildVaePool(r.augment.vae!, { ...r, ...r.model }, (l) => lines.push(l)));
  assert.ok(
    lines.some((l) => l.includes('read from')),
    `the second call reads the cache: ${lines.join(' | ')}`,
  );
  assert.equal(again?.clips, 2, 'two clips');
  assert.equal(again?.F, 5, 'five frames a clip');
  assert.deepEqual(again?.story, pool.story, 'same stories');
  assert.deepEqual(again?.start, pool.start, 'same first frames');
  assert.ok(Buffer.from(again!.rgb).equals(Buffer.from(pool.rgb)), 'same decoded bytes');
});

test('prob 1: every frame is a decoded pool frame, its truth that of the rendered frame', () => {
  const r = withVae(1);
  const { width: W, height: H, pool: p } = r.model;
  const w = W / p;
  const h = H / p;
  const a = makeProbeBatch(r, 5, new Map(), pool);
  assert.equal(a.sources.length, r.frames, 'one source per frame');
  const labels: [number, number, number][] = [];
  a.sources.forEach((s, b) => {
    assert.ok(s.vae, `frame ${b} comes from the VAE pool`);
    const clip = pool.story.findIndex((q, k) => q === s.story && s.frame - pool.start[k] < pool.F);
    assert.ok(clip >= 0, `frame ${b} (story ${s.story}, frame ${s.frame}) is in the pool`);
    const story = generateStory({ seed: splitSeed('train', s.story), width: W, height: H });
    const { rgb, truth } = makeRenderer(story, { masks: true }).render(s.frame);
    const clean = new Float32Array(3 * w * h);
    poolFrame(rgb, W, H, p, clean, 0);
    const decoded = new Float32Array(3 * w * h);
    const k = clip * pool.F + (s.frame - pool.start[clip]);
    poolFrame(pool.rgb.subarray(k * W * H * 3, (k + 1) * W * H * 3), W, H, p, decoded, 0);
    const got = a.frames.subarray(b * 3 * w * h, (b + 1) * 3 * w * h);
    assert.notDeepEqual(got, clean, `frame ${b}: the pixels are not the render's`);
    assert.deepEqual(got, decoded, `frame ${b}: the pixels are the pool's decoded frame`);
    const heat = new Float32Array(w * h);
    coverageGrid(truth, W, H, p, heat, 0);
    assert.deepEqual(a.heat.subarray(b * w * h, (b + 1) * w * h), heat, `frame ${b}: heat target unchanged`);
    assert.equal(a.bgKind[b], BACKGROUND_KINDS.indexOf(truth.background.kind), `frame ${b}: background kind`);
    assert.equal(
      a.bgColour[b],
      BACKGROUND_COLOURS.indexOf(truth.background.colour),
      `frame ${b}: background colour`,
    );
    for (const v of visibleObjects(truth, W))
      if (isScorable(v))
        for (let j = 0; j < r.cropsPerObject; j++)
          labels.push([
            SHAPES.indexOf(v.truth.shape),
            COLOURS.indexOf(v.truth.colour),
            PATTERNS.indexOf(v.truth.pattern),
          ]);
  });
  assert.ok(labels.length > 0, 'some objects to label');
  assert.deepEqual(
    Array.from(a.shape),
    labels.map((l) => l[0]),
    'shape labels are the truth',
  );
  assert.deepEqual(
    Array.from(a.colour),
    labels.map((l) => l[1]),
    'colour labels are the truth',
  );
  assert.deepEqual(
    Array.from(a.pattern),
    labels.map((l) => l[2]),
    'pattern labels are the truth',
  );
});

test('prob 0: the batch is the one of the recipe without the pool', () => {
  const a = makeProbeBatch(withVae(0), 5, new Map(), pool);
  const b = makeProbeBatch(base, 5);
  assert.ok(
    a.sources.every((s) => !s.vae),
    'no frame from the pool',
  );
  assert.deepEqual(a.frames, b.frames, 'same frames');
  assert.deepEqual(a.heat, b.heat, 'same heat targets');
  assert.deepEqual(a.crops, b.crops, 'same crops');
  assert.deepEqual(a.shape, b.shape, 'same shape labels');
  assert.deepEqual(a.sources, b.sources, 'same sources');
});

test('a fine-tune with the VAE pool, stopped and resumed, ends where an uninterrupted one does', () => {
  const run = (name: string, stopAfter?: number) => {
    const r: ProbeRecipe = {
      ...withVae(0.5),
      frames: 2,
      cropsPerObject: 1,
      steps: 2,
      finetune: { steps: 4, lr: 1e-4 },
      warmup: 0,
      checkpointEvery: 1,
      init: 'models/probe/probe.safetensors',
      out: join(dir, `${name}.safetensors`),
      work: join(dir, `${name}-work`),
    };
    const lines: string[] = [];
    const ctl = new AbortController();
    const gen = trainProbeSteps(r, (l) => lines.push(l), { signal: ctl.signal });
    let yields = 0;
    for (let x = gen.next(); !x.done; x = gen.next()) if (++yields === stopAfter) ctl.abort();
    if (stopAfter !== undefined) runToEnd(trainProbeSteps({ ...r, resume: true }, (l) => lines.push(l)));
    return { bytes: readFileSync(r.out), lines };
  };
  const once = run('once');
  const twice = run('twice', 2); // the pool is cached by then: the 2 yields are steps 1 and 2
  assert.ok(
    twice.lines.some((l) => /resuming .* at step 2\b/.test(l)),
    `the second call resumes from step 2: ${twice.lines.join(' | ')}`,
  );
  assert.ok(
    twice.lines.every((l) => !l.includes('cached in')),
    'the pool is read from its cache, never rebuilt',
  );
  assert.ok(once.bytes.equals(twice.bytes), 'the resumed run saves the same weights');
});
