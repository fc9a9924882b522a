import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dpmSolverStep } from '../../src/diffusion/dpm-solver.js';
import { eulerStep } from '../../src/diffusion/euler.js';
import {
  flowLoss,
  interpolate,
  noisedExample,
  sampleT,
  shiftTime,
  velocityTarget,
} from '../../src/diffusion/rectified-flow.js';
import { samplerStep } from '../../src/diffusion/sampler.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, tidy } from '../../src/tensor/tensor.js';

const arr = (t: { dataSync(): ArrayLike<number> }) => Array.from(t.dataSync());
const close = (a: number[], b: number[], tol = 1e-6) =>
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < tol, `${a} vs ${b}`));

describe('rectified flow', () => {
  test('interpolation ends at data and noise; the target is its time derivative', () =>
    tidy(() => {
      const x0 = fromArray([1, 2, 3], [3]);
      const e = fromArray([-1, 0, 5], [3]);
      close(arr(interpolate(x0, e, 0)), [1, 2, 3]);
      close(arr(interpolate(x0, e, 1)), [-1, 0, 5]);
      const h = 1e-3;
      const fd = arr(interpolate(x0, e, 0.3 + h)).map((v, i) => (v - arr(interpolate(x0, e, 0.3))[i]) / h);
      close(fd, arr(velocityTarget(x0, e)), 1e-2);
      const { xt, target } = noisedExample(x0, e, 0.25);
      close(arr(xt), [0.5, 1.5, 3.5]);
      close(arr(target), [-2, -2, 2]);
    }));

  test('timestep shift fixes 0 and 1, is monotone and matches s t / (1 + (s-1) t)', () => {
    assert.equal(shiftTime(0, 3), 0);
    assert.equal(shiftTime(1, 3), 1);
    assert.ok(Math.abs(shiftTime(0.5, 3) - 0.75) < 1e-12);
    assert.equal(shiftTime(0.4, 1), 0.4);
    assert.throws(() => shiftTime(0.5, 0), /shift must be > 0/);
  });

  test('uniform and logit-normal t: in (0, 1), seeded, with the expected centre', () => {
    const u = sampleT(new Rng(1), 4000, { kind: 'uniform' });
    const l = sampleT(new Rng(1), 4000, { kind: 'logit-normal' });
    const s = sampleT(new Rng(1), 4000, { kind: 'logit-normal', shift: 3 });
    const mean = (a: Float32Array) => a.reduce((x, y) => x + y, 0) / a.length;
    for (const a of [u, l, s]) assert.ok(a.every((t) => t > 0 && t < 1));
    assert.ok(Math.abs(mean(u) - 0.5) < 0.02);
    assert.ok(Math.abs(mean(l) - 0.5) < 0.02);
    assert.ok(mean(s) > 0.65, `shift 3 moves t toward noise, mean ${mean(s)}`);
    // logit-normal concentrates in the middle: fewer draws below 0.1 than uniform
    assert.ok(l.filter((t) => t < 0.1).length < u.filter((t) => t < 0.1).length / 2);
    assert.deepEqual(
      sampleT(new Rng(9), 8, { kind: 'uniform' }),
      sampleT(new Rng(9), 8, { kind: 'uniform' }),
    );
    assert.throws(() => sampleT(new Rng(1), 2, { kind: 'beta' } as never), /unknown time sampling 'beta'/);
  });

  test('loss is the (weighted) MSE plus the balancing terms', () =>
    tidy(() => {
      const { loss, mse } = flowLoss(fromArray([1, 3], [2]), fromArray([0, 1], [2]), [fromArray([0.5], [])]);
      close([mse.item()], [2.5]);
      close([loss.item()], [3]);
      assert.throws(() => flowLoss(fromArray([1], [1]), fromArray([1, 2], [2])), /differ in shape/);
      // weighted: (3 * 1 + 1 * 4) / 2 / mean 2 = 1.75; a weight map broadcasts over rows
      const w = flowLoss(fromArray([1, 3], [2]), fromArray([0, 1], [2]), [], {
        map: fromArray([3, 1], [2]),
        mean: 2,
      });
      close([w.mse.item()], [1.75]);
      const rows = flowLoss(fromArray([1, 3, 1, 3], [2, 2]), fromArray([0, 1, 0, 1], [2, 2]), [], {
        map: fromArray([0, 1], [1, 2]),
        mean: 0.5,
      });
      close([rows.mse.item()], [4]);
      const zero = { map: fromArray([0, 0], [2]), mean: 0 };
      assert.throws(() => flowLoss(fromArray([1, 3], [2]), fromArray([0, 1], [2]), [], zero), /mean is 0/);
    }));

  test('first-order DPM-Solver++ is the flow Euler step; invalid steps are rejected', () =>
    tidy(() => {
      const x = fromArray([0.3, -1, 2], [3]);
      const v = fromArray([1, 0.5, -2], [3]);
      close(
        arr(dpmSolverStep({ kind: 'dpm-solver++', order: 1 }, x, v, 0.7, 0.4).x),
        arr(eulerStep(x, v, 0.7, 0.4).x),
        1e-6,
      );
      assert.throws(() => samplerStep({ kind: 'euler' }, x, v, 0.4, 0.7), /1 >= t > tNext >= 0/);
      assert.throws(
        () => samplerStep({ kind: 'heun' } as never, x, v, 0.7, 0.4),
        /unknown sampler "heun" \(valid: euler, dpm-solver\+\+\)/,
      );
    }));
});
