/**
 * The committed probe checkpoint (models/probe) on held-out test-split frames it never saw: a quick
 * version of `moga eval probe` (4 stories instead of 40), so a broken checkpoint or a change in the
 * world or in the probe code shows up here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { setBackend } from '../../src/backends/index.js';
import { makeRenderer } from '../../src/data/world/render.js';
import { splitSeed } from '../../src/data/world/splits.js';
import { generateStory } from '../../src/data/world/story.js';
import { components, cropOfBox, cropSquare, resizeRgb, visibleObjects } from '../../src/eval/frames.js';
import { readFrames } from '../../src/eval/probe.js';
import { evaluateProbe } from '../../src/eval/probe-eval.js';
import { initProbe, loadProbe, type Probe, sceneForward } from '../../src/eval/probe-model.js';
import { makeProbeBatch, type ProbeRecipe } from '../../src/eval/probe-train.js';
import { fromArray } from '../../src/tensor/tensor.js';

let probe: Probe;
before(async () => {
  await setBackend('wasm');
  probe = loadProbe('models/probe').probe;
});

// A regression floor under the committed checkpoint's measured accuracy (moga eval probe --stories
// 20 --clips 2, models/probe/README.md: background, found, colour and pattern 100%, shape 99.8% per
// frame on clean frames), left where it was for the pool-4 probe.
test('held-out accuracy of the committed probes (4 test stories, clean frames)', () => {
  const r = evaluateProbe(probe, { stories: 4, clips: 2, first: 7 }).clean;
  assert.ok(r.objects >= 40, `${r.objects} objects`);
  const floor = { bgKind: 0.98, bgColour: 0.98, found: 0.92, colour: 0.92, pattern: 0.88, shape: 0.85 };
  for (const k of Object.keys(floor) as (keyof typeof floor)[]) assert.ok(r[k] >= floor[k], `${k} ${r[k]}`);
  assert.ok(r.iou > 0.5, `iou ${r.iou}`);
});

test('the probes read a frame at another size (resampled) the same way', () => {
  const story = generateStory({ seed: splitSeed('test', 3), width: 160, height: 96 });
  const { rgb } = makeRenderer(story).render(40);
  const big = resizeRgb(rgb, 160, 96, 320, 192);
  const [a] = readFrames(probe, [rgb], 160, 96);
  const [b] = readFrames(probe, [big], 320, 192);
  assert.equal(a.kind, b.kind);
  assert.equal(a.colour, b.colour);
  assert.deepEqual(
    a.objects.map((o) => o.shape),
    b.objects.map((o) => o.shape),
  );
});

test('heat-map components and crops', () => {
  const heat = new Float32Array(6 * 4);
  for (const i of [0, 1, 6, 7, 22]) heat[i] = 0.9;
  const c = components(heat, 6, 4, 4);
  assert.equal(c.length, 2);
  assert.deepEqual(c[0].box, [0, 0, 7, 7]);
  assert.equal(c[0].cells, 4);
  assert.deepEqual(c[1].box, [16, 12, 19, 15]);
  const q = cropOfBox([0, 0, 9, 19]);
  assert.deepEqual(q, { cx: 5, cy: 10, side: 26 });
});

test('bilinear resampling and crops on a ramp (R = 10 x + 100 y, G = 7, B = 255 - R)', () => {
  const W = 4;
  const H = 2;
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) rgb.set([10 * x + 100 * y, 7, 255 - 10 * x - 100 * y], (y * W + x) * 3);
  // 4x2 -> 2x2: columns sampled between source pixels 0|1 and 2|3, rows kept
  assert.deepEqual([...resizeRgb(rgb, W, H, 2, 2)], [5, 7, 250, 25, 7, 230, 105, 7, 150, 125, 7, 130]);
  // a 2x2 crop of side 2 centred at (2, 1) reads pixels (1..2, 0..1); one at (0.5, 0) repeats the edge
  const out = new Float32Array(2 * 3 * 4);
  cropSquare(rgb, W, H, 2, 1, 2, 2, out);
  cropSquare(rgb, W, H, 0.5, 0, 2, 2, out, 12);
  const bytes = [...out].map((v) => Math.round((v + 1) * 127.5));
  assert.deepEqual(bytes.slice(0, 4), [10, 20, 110, 120]); // R plane
  assert.deepEqual(bytes.slice(4, 8), [7, 7, 7, 7]); // G plane
  assert.deepEqual(bytes.slice(12, 16), [0, 5, 0, 5]); // R plane of the edge crop
});

test('training batches: labels in range, crops per scorable object, a function of (seed, step) only', () => {
  const file = JSON.parse(readFileSync('configs/probe.json', 'utf8')) as ProbeRecipe;
  // without the VAE pool (test/eval/probe-vae.test.ts covers it)
  const r: ProbeRecipe = { ...file, frames: 3, augment: { ...file.augment, vae: undefined } };
  const a = makeProbeBatch(r, 7);
  assert.equal(a.B, 3);
  const cells = (r.model.width / r.model.pool) * (r.model.height / r.model.pool);
  assert.equal(a.frames.length, 3 * 3 * cells);
  assert.ok(a.heat.every((v) => v >= 0 && v <= 1) && a.heat.some((v) => v > 0.5));
  assert.ok(a.N > 0 && a.N % r.cropsPerObject === 0, `${a.N} crops`);
  for (const [labels, n] of [
    [a.bgKind, 4],
    [a.bgColour, 8],
    [a.shape, 8],
    [a.colour, 8],
    [a.pattern, 4],
  ] as const)
    assert.ok(
      labels.every((l) => l >= 0 && l < n),
      `${labels}`,
    );
  // the jittered crops of one object share its labels
  for (let i = 0; i < a.N; i += r.cropsPerObject)
    for (let k = 1; k < r.cropsPerObject; k++) assert.equal(a.shape[i + k], a.shape[i]);
  const b = makeProbeBatch(r, 7);
  assert.deepEqual(b.crops, a.crops);
  assert.deepEqual(b.shape, a.shape);
  assert.notDeepEqual(makeProbeBatch(r, 8).frames, a.frames);
});

// Pool 2 (a heat-map cell per 2x2 pixels, 80x48 cells at 160x96): the grid the training truth, the
// scene net and the reading share; a component's box is in pixels, cell-aligned.
test('pool 2: batches, scene net and reading on the 80x48 grid', () => {
  const file = JSON.parse(readFileSync('configs/probe-base.json', 'utf8')) as ProbeRecipe;
  const r: ProbeRecipe = { ...file, frames: 2, model: { ...file.model, pool: 2 } };
  const a = makeProbeBatch(r, 3);
  assert.equal(a.frames.length, 2 * 3 * 80 * 48);
  assert.equal(a.heat.length, 2 * 80 * 48);
  assert.ok(
    a.heat.some((v) => v > 0.99),
    'some cells are fully covered',
  );
  const p = initProbe(r.model, 0);
  const s = sceneForward(p.params.scene, fromArray(a.frames, [2, 3, 48, 80]));
  assert.deepEqual(s.heat.shape, [2, 48, 80]);
  assert.deepEqual(s.bg.shape, [2, 12]);
  const story = generateStory({ seed: splitSeed('test', 3), width: 160, height: 96 });
  const [rd] = readFrames(p, [makeRenderer(story).render(40).rgb], 160, 96, { seed: 0, low: 0 });
  assert.equal(rd.heat.length, 80 * 48);
  // with thresholds 0 every cell is one component: the whole frame
  assert.deepEqual(rd.objects[0].box, [0, 0, 159, 95]);
  const heat = new Float32Array(80 * 48);
  heat[5 * 80 + 7] = heat[5 * 80 + 8] = 0.9;
  assert.deepEqual(components(heat, 80, 48, 2)[0].box, [14, 10, 17, 11]);
});

// The pool-2 heat map finds the 40 px star of test story 12 (frames 132-138) that the pool-4 one
// never found (models/probe/README.md, objects under 60 px).
test('the committed probes find a 40 px star', () => {
  const story = generateStory({ seed: splitSeed('test', 12), width: 160, height: 96 });
  const { rgb, truth } = makeRenderer(story, { masks: true }).render(135);
  const star = visibleObjects(truth, 160).find((v) => v.pixels < 60 && v.truth.shape === 'star');
  assert.ok(star, 'the small star is in the frame');
  const [rd] = readFrames(probe, [rgb], 160, 96);
  const o = rd.objects.find(
    (q) => star.cx >= q.box[0] && star.cx <= q.box[2] + 1 && star.cy >= q.box[1] && star.cy <= q.box[3] + 1,
  );
  assert.ok(o, `found: ${JSON.stringify(rd.objects.map((q) => q.box))}`);
  assert.equal(o.shape, 'star');
});
