/**
 * Training known-frame conditioning through the one objective (models/dit/objective.ts
 * `conditioning`, `drawGiven`): an existing recipe's loss and RNG draws are bit for bit those of
 * before; the masks come from the example's layout; the loss counts only the frames not given.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initVideoDiT } from '../../src/models/dit/dit.js';
import { type Denoiser, denoiser, drawGiven, trainingLoss } from '../../src/models/dit/objective.js';
import { namedTensors } from '../../src/nn/params-file.js';
import { loadModel } from '../../src/pipeline/model.js';
import { checkDitRecipe, type DitRecipe, trainDit } from '../../src/pipeline/train-dit.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, tidy } from '../../src/tensor/tensor.js';
import { microRecipe } from '../pipeline/helpers.js';
import { MICRO_DIT, moveOffInit } from './micro-dit.js';

function examples(rng: Rng) {
  return [0, 1].map(() => ({
    latents: rng.normal([2, 4, 4, 4]),
    text: {
      shots: [
        { frames: 2, caption: rng.normal([2, 8]) },
        { frames: 2, caption: rng.normal([3, 8]) },
      ],
    },
  }));
}

test('a recipe without conditioning: the same loss bits and RNG draws as before conditioning existed', () =>
  tidy(() => {
    const rng = new Rng(21);
    const model = initVideoDiT(MICRO_DIT, rng.fork(1));
    moveOffInit(model, rng.fork(2), 0.3);
    const batch = examples(rng.fork(3));
    for (const batched of [false, true]) {
      const r = new Rng(4);
      const l = trainingLoss(denoiser(model), batch, r, {
        prediction: 'velocity',
        sampling: { kind: 'uniform' },
        captionDropout: 0.3,
        batched,
      });
      // taken at ee54a8f (before conditioning existed) with this same test body
      const want = batched ? [6.38205099105835, 67] : [6.38951301574707, 67];
      assert.deepEqual([l.loss.item(), r.offset], want, `batched ${batched}: loss and RNG offset changed`);
    }
    // the real DiT with conditioning: one Philox block more per example, a finite loss
    const cond = initVideoDiT({ ...MICRO_DIT, conditioning: true }, rng.fork(1));
    const r = new Rng(4);
    const l = trainingLoss(denoiser(cond), batch, r, {
      prediction: 'velocity',
      sampling: { kind: 'uniform' },
      captionDropout: 0.3,
      conditioning: { prob: 1, kinds: ['prefix'] },
    });
    assert.ok(Number.isFinite(l.loss.item()), `loss ${l.loss.item()}`);
    assert.equal(r.offset, 67 + 2, 'one block per example for the masks');
  }));

test('drawGiven: first, last, every shot but one, a prefix; one Philox block per example; never every frame', () => {
  const all = { prob: 1, kinds: ['first', 'last', 'shots', 'prefix'] as const };
  const seen = new Set<string>();
  const r = new Rng(3);
  for (let i = 0; i < 200; i++) {
    const before = r.offset;
    const f = drawGiven(r, [2, 3, 1], all);
    assert.equal(r.offset, before + 1, 'one block of 4 uniforms per draw');
    assert.ok(f, 'prob 1 conditions every example');
    assert.equal(f.length, 6, 'one flag per latent frame');
    assert.ok(f.includes(0), `every frame given: ${f}`);
    seen.add(f.join(''));
  }
  const shots = ['001111', '110001', '111110'];
  const prefixes = ['100000', '110000', '111000', '111100', '111110'];
  const allowed = new Set(['100000', '000001', ...shots, ...prefixes]);
  for (const s of seen) assert.ok(allowed.has(s), `unexpected mask ${s}`);
  for (const s of ['100000', '000001', '001111', '110001', '111100'])
    assert.ok(seen.has(s), `mask ${s} never drawn in 200 draws`);
  assert.equal(drawGiven(new Rng(1), [1], all), undefined, 'a one-frame example is never conditioned');
  assert.equal(drawGiven(new Rng(1), [2, 2], { prob: 0, kinds: ['first'] }), undefined, 'prob 0');
  assert.deepEqual(
    drawGiven(new Rng(1), [4], { prob: 1, kinds: ['shots'] }),
    [1, 0, 0, 0],
    'one shot: first',
  );
});

test('conditioned training: the network gets the clean latent on the drawn frames, the loss counts only the others', () =>
  tidy(() => {
    const rng = new Rng(8);
    const batch = examples(rng);
    const seen: (readonly number[] | undefined)[] = [];
    // predicts x0 exactly where nothing is given, garbage (1000) on given frames
    const net = (ex: typeof batch): Denoiser => ({
      textDim: 8,
      condition: (_texts, shape, given) => ({
        run: (latents) => ({
          velocities: latents.map((_, b) => {
            const g = given?.[b];
            seen.push(g?.frames);
            const clean = batch.find((e) => e.latents === g?.latent) ?? ex[seen.length - 1];
            const x = clean.latents.dataSync() as Float32Array;
            const per = shape[2] * shape[3];
            return fromArray(
              x.map((v, i) => (g?.frames[Math.floor(i / per) % shape[1]] ? 1000 : v)),
              shape,
            );
          }),
          balanceLosses: [],
        }),
        dispose() {},
      }),
    });
    const opts = {
      prediction: 'data' as const,
      sampling: { kind: 'uniform' as const },
      captionDropout: 0,
      conditioning: { prob: 1, kinds: ['shots' as const] },
    };
    const l = trainingLoss(net(batch), batch, new Rng(2), opts);
    assert.equal(seen.length, 2, 'one pass per example');
    for (const f of seen) assert.ok(f && (f.join('') === '0011' || f.join('') === '1100'), `mask ${f}`);
    assert.equal(l.mse, 0, 'the loss read the given frames');
    // the same garbage counted when nothing is given: the test can fail
    seen.length = 0;
    const bad = trainingLoss(
      {
        ...net(batch),
        condition: (t, s) =>
          net(batch).condition(
            t,
            s,
            batch.map((e) => ({ latent: e.latents, frames: [1, 1, 0, 0] })),
          ),
      },
      batch,
      new Rng(2),
      { ...opts, conditioning: undefined },
    );
    assert.ok(bad.mse > 1000, `unmasked loss ${bad.mse} should count the garbage frames`);
  }));

test('a recipe with conditioning needs a conditioned DiT and valid kinds', () => {
  const r = microRecipe('/tmp/none');
  assert.throws(
    () => checkDitRecipe({ ...r, conditioning: { prob: 0.5, kinds: ['first'] } }),
    /conditioning needs dit.conditioning: true/,
  );
  assert.throws(
    () =>
      checkDitRecipe({
        ...r,
        dit: { ...r.dit, conditioning: true },
        conditioning: { prob: 0.5, kinds: ['middle' as never] },
      }),
    /unknown kind "middle"/,
  );
  assert.throws(
    () =>
      checkDitRecipe({
        ...r,
        dit: { ...r.dit, conditioning: true },
        conditioning: { prob: 2, kinds: ['first'] },
      }),
    /conditioning.prob must be in \[0, 1\]/,
  );
  checkDitRecipe({
    ...r,
    dit: { ...r.dit, conditioning: true },
    conditioning: { prob: 0.5, kinds: ['shots', 'prefix'] },
  });
});

/** A 1-step unconditioned micro run, then a 2-step conditioned one warm-started from it (+ `extra`). */
function conditionedRun(dir: string, extra: Partial<DitRecipe> = {}) {
  const log = () => {};
  const src = microRecipe(dir, { steps: 1 });
  trainDit(src, { log });
  const cond = microRecipe(dir, {
    dit: { ...src.dit, conditioning: true },
    conditioning: { prob: 1, kinds: ['first', 'last', 'shots', 'prefix'] },
    work: join(dir, 'work2'),
    out: join(dir, 'model2'),
    steps: 2,
    init: { checkpoint: src.work, weights: 'ema' },
    ...extra,
  });
  trainDit(cond, { log });
  return { src, cond };
}

test('trainDit: a conditioned recipe warm-started from an unconditioned run trains and exports a model that keeps frames', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-train-cond-'));
  try {
    const { cond } = conditionedRun(dir);
    const model = await loadModel(cond.out);
    assert.equal(model.config.dit.conditioning, true, 'config carries dit.conditioning');
    const w = model.dit.params.patchEmbed.weight;
    assert.deepEqual(w.shape, [32, (2 * 16 + 1) * 4], 'the widened patch embedding');
    // the conditioning columns left zero by the warm start were trained
    const v = w.dataSync() as Float32Array;
    const extra = Array.from(v).filter((_, i) => i % w.shape[1] >= 16 * 4);
    assert.ok(
      extra.some((x) => x !== 0),
      'the conditioning columns never moved: the given frames did not reach the loss',
    );
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trainDit with trainOnly "conditioning": only the given-frame columns move, so text to video is the source model exactly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-train-only-'));
  try {
    const { src, cond } = conditionedRun(dir, { trainOnly: 'conditioning' });
    const [before, after] = [await loadModel(src.out), await loadModel(cond.out)];
    const old = new Map(namedTensors(before.dit.params).map(([n, t]) => [n, t.dataSync() as Float32Array]));
    let moved = 0;
    for (const [name, t] of namedTensors(after.dit.params)) {
      const v = t.dataSync() as Float32Array;
      if (name !== 'patchEmbed.weight') {
        assert.deepEqual(Array.from(v), Array.from(old.get(name)!), `${name} moved`);
        continue;
      }
      const cols = t.shape[1];
      v.forEach((x, i) => {
        const [o, c] = [Math.floor(i / cols), i % cols];
        if (c < 16 * 4) assert.equal(x, old.get(name)![o * 16 * 4 + c], `x_t column ${c} moved`);
        else moved += +(x !== 0);
      });
    }
    assert.ok(moved > 0, 'the conditioning columns never moved');
    assert.throws(
      () => checkDitRecipe({ ...src, trainOnly: 'conditioning' }),
      /needs dit.conditioning: true/,
    );
    before.dispose();
    after.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
