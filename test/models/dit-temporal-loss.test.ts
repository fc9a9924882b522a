/**
 * The temporal term (rectified-flow.ts `flowLoss`, objective.ts `temporal`, recipe
 * `temporalWeight`): the squared change of the error between consecutive latent frames of a shot,
 * never across a cut or onto a given frame.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { flowLoss } from '../../src/diffusion/rectified-flow.js';
import { type Denoiser, trainingLoss } from '../../src/models/dit/objective.js';
import { checkDitRecipe, trainDit } from '../../src/pipeline/train-dit.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, tidy } from '../../src/tensor/tensor.js';
import { microRecipe } from '../pipeline/helpers.js';

const near = (got: number, want: number, what: string) =>
  assert.ok(Math.abs(got - want) < 1e-6, `${what}: got ${got}, want ${want}`);

test('flowLoss: the temporal term is the weighted mean squared change of the error between frames', () =>
  tidy(() => {
    // [C 1, F 3, H 1, W 2]; error d: frame 0 [0, 0], frame 1 [1, 0], frame 2 [1, 0]
    const target = fromArray([0, 0, 0, 0, 0, 0], [1, 3, 1, 2]);
    const pred = fromArray([0, 0, 1, 0, 1, 0], [1, 3, 1, 2]);
    const all = { map: fromArray([1, 1], [1, 2, 1, 1]), mean: 1, weight: 3 };
    const l = flowLoss(pred, target, [], undefined, all);
    // changes: pair 0 [1, 0], pair 1 [0, 0] -> mean of squares 1 / 4
    near(l.temporal!.item(), 1 / 4, 'temporal');
    near(l.mse.item(), 2 / 6, 'mse unchanged by it');
    near(l.loss.item(), 2 / 6 + 3 / 4, 'loss = mse + weight x temporal');
    // the pair that changes weighed 0: no term; weighed alone: its mean
    near(
      flowLoss(pred, target, [], undefined, {
        ...all,
        map: fromArray([0, 1], [1, 2, 1, 1]),
        mean: 0.5,
      }).temporal!.item(),
      0,
      'pair 0 off',
    );
    near(
      flowLoss(pred, target, [], undefined, {
        ...all,
        map: fromArray([1, 0], [1, 2, 1, 1]),
        mean: 0.5,
      }).temporal!.item(),
      0.5,
      'pair 0 only',
    );
    assert.equal(flowLoss(pred, target).temporal, undefined, 'no term unless asked');
    assert.throws(
      () =>
        flowLoss(pred, target, [], undefined, { ...all, map: fromArray([1, 1, 1], [1, 3, 1, 1]), mean: 1 }),
      /temporal map \[1,3,1,1\] for a prediction \[1,3,1,2\]/,
    );
  }));

test('trainingLoss: the temporal term skips cuts and given frames, and adds its weight times the change', () =>
  tidy(() => {
    const rng = new Rng(3);
    const shape = [2, 3, 2, 2]; // C, F, H, W
    const latents = rng.normal(shape);
    const caption = rng.normal([2, 8]);
    // predicts x0 exactly except +1 everywhere on latent frame `bad`
    const netErring = (bad: number): Denoiser => ({
      textDim: 8,
      condition: () => ({
        run: (xs) => ({
          velocities: xs.map(() =>
            fromArray(
              (latents.dataSync() as Float32Array).map((v, i) => (Math.floor(i / 4) % 3 === bad ? v + 1 : v)),
              shape,
            ),
          ),
          balanceLosses: [],
        }),
        dispose() {},
      }),
    });
    const opts = {
      prediction: 'data' as const,
      sampling: { kind: 'uniform' as const },
      captionDropout: 0,
      temporal: 2,
    };
    const run = (bad: number, frames: number[], o: object = opts) =>
      trainingLoss(
        netErring(bad),
        [{ latents, text: { shots: frames.map((f) => ({ frames: f, caption })) } }],
        new Rng(1),
        {
          ...opts,
          ...o,
        },
      );
    // one shot, frame 2 errs: pair (1, 2) changes by 1 on every cell, pair (0, 1) not
    const one = run(2, [3]);
    near(one.temporal, 0.5, 'one shot');
    near(one.loss.item(), one.mse + 2 * 0.5, 'loss = mse + 2 x temporal');
    const batched = run(2, [3], { batched: true });
    near(batched.temporal, 0.5, 'batched: the same term');
    near(batched.loss.item(), one.loss.item(), 'batched: the same loss');
    // a cut before frame 2: the only changing pair spans it, so nothing counts
    near(run(2, [2, 1]).temporal, 0, 'across a cut');
    // a cut before frame 1 instead: pair (1, 2) is inside the second shot and counts alone
    near(run(2, [1, 2]).temporal, 1, 'inside the second shot');
    // frame 0 given and erring: its pair counts nothing, the other pair does not change
    near(run(0, [3], { conditioning: { prob: 1, kinds: ['first'] } }).temporal, 0, 'given frame 0');
    near(run(0, [3]).temporal, 0.5, 'frame 0 not given');
    // without the option: no term, and the loss is the mse alone
    const off = run(2, [3], { temporal: 0 });
    assert.equal(off.temporal, 0);
    near(off.loss.item(), off.mse, 'no temporal weight');
  }));

test('trainDit: a recipe with temporalWeight trains on the temporal term; a negative weight is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-temporal-'));
  try {
    const loss = (temporalWeight: number) =>
      trainDit(microRecipe(join(dir, `t${temporalWeight}`), { temporalWeight, cache: join(dir, 'cache') }), {
        log: () => {},
      }).finalLoss!;
    const [plain, temporal] = [loss(0), loss(4)];
    assert.ok(Number.isFinite(temporal) && temporal > plain, `losses ${plain} and ${temporal}`);
    assert.throws(
      () => checkDitRecipe(microRecipe(dir, { temporalWeight: -1 })),
      /temporalWeight must be a number >= 0/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
