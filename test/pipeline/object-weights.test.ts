/**
 * Object loss weights (pipeline/object-weights.ts, recipe `objectWeight`): cells inside an
 * object's disc in any pixel frame of their latent frame count 1 + lambda times the others, mean 1;
 * the objective weighs each cell's error by them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { frameTruth } from '../../src/data/world/render.js';
import { SHAPE_BOUND } from '../../src/data/world/shapes.js';
import type { Denoiser } from '../../src/models/dit/objective.js';
import { trainingLoss } from '../../src/models/dit/objective.js';
import { objectWeights } from '../../src/pipeline/object-weights.js';
import { checkDitRecipe, trainDit } from '../../src/pipeline/train-dit.js';
import { clipWindow } from '../../src/pipeline/world-clips.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, tidy } from '../../src/tensor/tensor.js';
import { microRecipe } from './helpers.js';

const SPEC = { frames: 33, width: 160, height: 96, fps: 24, minSeconds: 8, maxSeconds: 40, globalProb: 0.5 };
const [F, H, W] = [9, 12, 20];
const S = 8; // pixels per latent cell

test('object weights: mean 1; a cell whose centre an object covers in its frames weighs most, a cell no object reaches least', () => {
  let moved = 0;
  for (let clip = 0; clip < 6; clip++) {
    const { story, start } = clipWindow(clip, SPEC);
    const w = objectWeights(story, start, [F, H, W], 4, 4);
    assert.equal(w.length, F * H * W, 'one weight per latent cell');
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    assert.ok(Math.abs(mean - 1) < 1e-5, `clip ${clip}: mean ${mean}`);
    const lo = Math.min(...w);
    assert.ok(
      objectWeights(story, start, [F, H, W], 4, 0).every((v) => v === 1),
      'lambda 0: all ones',
    );
    for (let k = 0; k < F; k++) {
      const frames = k === 0 ? [0] : [1, 2, 3, 4].map((i) => (k - 1) * 4 + i);
      const discs = frames.flatMap((f) =>
        frameTruth(story, start + f).objects.map((o) => ({ x: o.x, y: o.y, r: SHAPE_BOUND * o.size })),
      );
      if (k > 0 && discs.some((d) => Math.abs(d.x - discs[0].x) > S)) moved++;
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const v = w[(k * H + y) * W + x];
          const [cx, cy] = [(x + 0.5) * S, (y + 0.5) * S];
          const centre = discs.some((d) => Math.hypot(cx - d.x, cy - d.y) < d.r - S / 4);
          // the farthest a point of the cell can be from its centre: half a diagonal
          const reach = discs.some((d) => Math.hypot(cx - d.x, cy - d.y) <= d.r + S * Math.SQRT1_2);
          if (centre) assert.ok(v > lo * 1.5, `clip ${clip} frame ${k} cell ${y},${x}: covered, weight ${v}`);
          if (!reach) assert.equal(v, lo, `clip ${clip} frame ${k} cell ${y},${x}: no object, weight ${v}`);
        }
    }
  }
  assert.ok(moved > 0, 'some object moves within a latent frame (the frame mapping is tested)');
  const { story, start } = clipWindow(0, SPEC);
  assert.throws(() => objectWeights(story, start, [F, 10, W], 4, 4), /one square factor/);
  assert.throws(() => objectWeights(story, start, [F, H, W], 4, -1), /lambda must be >= 0/);
});

test('trainingLoss: a cell error counts by its weight; given frames count nothing', () =>
  tidy(() => {
    const rng = new Rng(5);
    const shape = [2, 2, 2, 3];
    const latents = rng.normal(shape);
    const text = { shots: [{ frames: 2, caption: rng.normal([2, 8]) }] };
    // predicts x0 exactly except +1 on every channel of cell 4 (frame 0, row 1, column 1)
    const net: Denoiser = {
      textDim: 8,
      condition: () => ({
        run: (xs) => ({
          velocities: xs.map(() =>
            fromArray(
              (latents.dataSync() as Float32Array).map((v, i) => (i % 12 === 4 ? v + 1 : v)),
              shape,
            ),
          ),
          balanceLosses: [],
        }),
        dispose() {},
      }),
    };
    const opts = { prediction: 'data' as const, sampling: { kind: 'uniform' as const }, captionDropout: 0 };
    const plain = trainingLoss(net, [{ latents, text }], new Rng(1), opts);
    assert.ok(Math.abs(plain.mse - 1 / 12) < 1e-6, `unweighted: one cell of 12, got ${plain.mse}`);
    const weight = new Float32Array(12).fill(6 / 11);
    weight[4] = 6; // mean 1
    const heavy = trainingLoss(net, [{ latents, text, weight }], new Rng(1), opts);
    assert.ok(Math.abs(heavy.mse - 6 / 12) < 1e-6, `weight 6 on the cell: ${heavy.mse}`);
    // frame 0 given: the erring cell counts nothing, whatever its weight
    const first = { ...opts, conditioning: { prob: 1, kinds: ['first' as const] } };
    assert.equal(trainingLoss(net, [{ latents, text, weight }], new Rng(1), first).mse, 0, 'given frame 0');
    const last = { ...opts, conditioning: { prob: 1, kinds: ['last' as const] } };
    // frame 1 given: the cell counts 6 against the kept weights' mean 6 / 12 + (5 / 11) * (6 / 12)
    const kept = (6 + 5 * (6 / 11)) / 12;
    const l = trainingLoss(net, [{ latents, text, weight }], new Rng(1), last).mse;
    assert.ok(Math.abs(l - 6 / 12 / kept) < 1e-5, `given frame 1: ${l}, want ${6 / 12 / kept}`);
    assert.throws(
      () => trainingLoss(net, [{ latents, text, weight: new Float32Array(5) }], new Rng(1), opts),
      /5 cell weights for a latent \[2,2,2,3\] of 12 cells/,
    );
  }));

test('trainDit: a recipe with objectWeight trains on the weighted loss; a negative weight is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-object-weight-'));
  try {
    const log = () => {};
    const loss = (objectWeight: number) =>
      trainDit(microRecipe(join(dir, `w${objectWeight}`), { objectWeight, cache: join(dir, 'cache') }), {
        log,
      }).finalLoss!;
    const [plain, weighted] = [loss(0), loss(4)];
    assert.ok(Number.isFinite(weighted) && weighted !== plain, `losses ${plain} and ${weighted}`);
    assert.throws(
      () => checkDitRecipe(microRecipe(dir, { objectWeight: -1 })),
      /objectWeight must be a number >= 0/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
