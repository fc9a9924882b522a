import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adamwUpdate, initAdamW, validateAdamW } from '../../src/train/adamw.js';
import { clipGlobalNorm, emaUpdate, globalNorm, warmupConstant } from '../../src/train/schedule.js';

const cfg = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
const close = (a: ArrayLike<number>, b: number[], tol = 2e-6) =>
  b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) <= tol, `[${i}] ${a[i]} vs ${v}`));

describe('AdamW', () => {
  it('matches two steps computed by hand', () => {
    const s = initAdamW([['p', 2]]);
    const p = Float32Array.from([1, -2]);
    s.t++;
    adamwUpdate(s, cfg, cfg.lr, 'p', p, Float32Array.from([0.5, 0.1]));
    // step 1: m/(1-b1) = g, v/(1-b2) = g^2, so the step is lr * sign(g); decay multiplies by 0.999
    close(p, [0.999 - 0.1, -1.998 - 0.1]);
    close(s.m.get('p')!, [0.05, 0.01], 1e-8);
    close(s.v.get('p')!, [0.00025, 0.00001], 1e-10);
    s.t++;
    adamwUpdate(s, cfg, cfg.lr, 'p', p, Float32Array.from([0.25, -0.1]));
    // m = [0.07, -0.001], v = [0.00031225, 0.00001999], bc1 = 0.19, bc2 = 0.001999
    // p0 = 0.899 * 0.999 - 0.1 * (0.07 / 0.19) / sqrt(0.00031225 / 0.001999) = 0.804883
    // p1 = -2.098 * 0.999 + 0.1 * (0.001 / 0.19) / 0.1 = -2.090639
    close(s.m.get('p')!, [0.07, -0.001], 1e-8);
    close(p, [0.804883, -2.090639], 3e-6);
  });

  it('decays weights independently of the gradient (decoupled)', () => {
    const s = initAdamW([['p', 1]]);
    const p = Float32Array.from([3]);
    s.t++;
    adamwUpdate(s, { ...cfg, weightDecay: 0.5 }, 0.1, 'p', p, Float32Array.from([0]));
    close(p, [3 * (1 - 0.05)]);
    // with a gradient, the decay does not pass through the moments (unlike Adam + L2)
    const a = initAdamW([['p', 1]]);
    const q = Float32Array.from([3]);
    a.t++;
    adamwUpdate(a, { ...cfg, weightDecay: 0.5 }, 0.1, 'p', q, Float32Array.from([2]));
    close(a.m.get('p')!, [0.2], 1e-7);
    close(q, [3 * 0.95 - 0.1]);
  });

  it('refuses bad settings and mismatched sizes', () => {
    assert.throws(() => validateAdamW({ ...cfg, beta1: 1 }), /beta1 = 1 must be in \[0, 1\)/);
    assert.throws(() => validateAdamW({ ...cfg, eps: 0 }), /eps = 0 must be > 0/);
    const s = initAdamW([['p', 2]]);
    assert.throws(
      () => adamwUpdate(s, cfg, 0.1, 'p', new Float32Array(2), new Float32Array(2)),
      /incremented/,
    );
    s.t = 1;
    assert.throws(
      () => adamwUpdate(s, cfg, 0.1, 'q', new Float32Array(2), new Float32Array(2)),
      /no moments for parameter 'q'/,
    );
    assert.throws(
      () => adamwUpdate(s, cfg, 0.1, 'p', new Float32Array(3), new Float32Array(3)),
      /has 3 elements/,
    );
  });
});

describe('schedule, clipping, EMA', () => {
  it('warms up linearly then stays constant', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((s) => warmupConstant(1, 4, s)),
      [0.25, 0.5, 0.75, 1, 1, 1],
    );
    assert.equal(warmupConstant(0.5, 0, 0), 0.5);
  });

  it('clips by the global norm and reports the norm before clipping', () => {
    const g = [Float32Array.from([3, 0]), Float32Array.from([4])];
    assert.equal(clipGlobalNorm(g, 1), 5);
    close(g[0], [0.6, 0]);
    close(g[1], [0.8]);
    assert.ok(Math.abs(globalNorm(g) - 1) < 1e-6);
    const small = [Float32Array.from([0.3])];
    clipGlobalNorm(small, 1);
    assert.equal(small[0][0], Math.fround(0.3), 'under the limit: untouched');
    assert.throws(() => clipGlobalNorm([Float32Array.from([Number.NaN])], 1), /gradient norm is NaN/);
  });

  it('updates the EMA', () => {
    const e = Float32Array.from([1, 2]);
    emaUpdate(e, Float32Array.from([3, 2]), 0.75);
    close(e, [1.5, 2]);
  });
});
