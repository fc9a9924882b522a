/**
 * MoGA router (values and gradients against float64 JS evaluation) and VisualAttention (branch
 * equivalences, batching, gradient reaching the router through the gate).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MoGARouter } from '../../src/attention/router.js';
import { VisualAttention, type VisualAttentionConfig } from '../../src/attention/visual-attention.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { add, mul, sum } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, noGrad, type Tensor, tidy } from '../../src/tensor/tensor.js';
import { randArray, relErr } from './dense.js';

/** Router forward and loss in float64: L = sum_i c_i * gate_i + balanceLoss. */
function routerLoss64(
  w: Float64Array,
  x: Float32Array,
  n: number,
  d: number,
  m: number,
  c: Float32Array,
  form: string,
) {
  const ids = new Int32Array(n);
  const probs = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    let mx = Number.NEGATIVE_INFINITY;
    const z = new Float64Array(m);
    for (let g = 0; g < m; g++) {
      for (let j = 0; j < d; j++) z[g] += x[i * d + j] * w[g * d + j];
      mx = Math.max(mx, z[g]);
    }
    let s = 0;
    for (let g = 0; g < m; g++) s += Math.exp(z[g] - mx);
    for (let g = 0; g < m; g++) probs[i * m + g] = Math.exp(z[g] - mx) / s;
    for (let g = 1; g < m; g++) if (probs[i * m + g] > probs[i * m + ids[i]]) ids[i] = g;
  }
  const F = new Float64Array(m);
  for (const g of ids) F[g] += 1 / n;
  let loss = 0;
  let bal = 0;
  for (let i = 0; i < n; i++) {
    const gate = probs[i * m + ids[i]];
    loss += c[i] * gate;
    if (form === 'switch') for (let g = 0; g < m; g++) bal += (F[g] * probs[i * m + g]) / n;
    else bal += (F[ids[i]] * gate) / n;
  }
  return { ids, probs, loss: loss + 0.1 * m * bal, bal: 0.1 * m * bal };
}

describe('MoGARouter', () => {
  for (const form of ['switch', 'printed'] as const)
    test(`values and weight gradient vs float64 finite differences (${form} balance loss)`, () => {
      const [n, d, m] = [23, 6, 4];
      const p = MoGARouter.init(new Rng(5), d, m);
      const xa = randArray(n * d, 9, 2);
      const c = randArray(n, 10);
      const w0 = Float64Array.from(p.proj.weight.dataSync());
      const ref = routerLoss64(w0, xa, n, d, m, c, form);
      const got = tidy(() => {
        p.proj.weight.requiresGrad = true;
        const r = MoGARouter.apply(p, fromArray(xa, [n, d]), { balance: form });
        const loss = add(sum(mul(r.gate, fromArray(c, [n]))), r.balanceLoss);
        const [g] = gradients(loss, [p.proj.weight]);
        return {
          ids: r.groupIds,
          counts: Array.from(r.counts!),
          bal: r.balanceLoss.item(),
          gate: r.gate.dataSync(),
          g: g!.dataSync(),
        };
      });
      assert.deepEqual(got.ids, ref.ids);
      assert.equal(
        got.counts.reduce((a, b) => a + b),
        n,
      );
      assert.ok(Math.abs(got.bal - ref.bal) < 1e-6);
      assert.ok(
        relErr(
          got.gate,
          Float64Array.from(ref.ids, (g, i) => ref.probs[i * m + g]),
        ) < 1e-6,
      );
      const h = 1e-6;
      const num = w0.map((v, j) => {
        const wp = w0.slice();
        wp[j] = v + h;
        const wm = w0.slice();
        wm[j] = v - h;
        return (
          (routerLoss64(wp, xa, n, d, m, c, form).loss - routerLoss64(wm, xa, n, d, m, c, form).loss) /
          (2 * h)
        );
      });
      assert.ok(relErr(got.g, num) < 1e-4, `router weight gradient rel err ${relErr(got.g, num)}`);
    });

  test('balance loss of a router collapsed onto one group with uniform probabilities is alpha * M * 1/M', () => {
    const p = { proj: { weight: fromArray(new Float32Array(3 * 4), [3, 4]) } }; // all logits 0
    const r = MoGARouter.apply(p, fromArray(randArray(6 * 4, 1), [6, 4]));
    // uniform probs -> argmax picks group 0 for every token: F = (1, 0, 0), P = 1/3 -> alpha * M * 1/3
    assert.ok(Math.abs(r.balanceLoss.item() - 0.1) < 1e-6);
    assert.deepEqual(Array.from(r.counts!), [6, 0, 0]);
    assert.throws(() => MoGARouter.apply(p, fromArray(new Float32Array(6), [2, 3])), /x must be \[N, 4\]/);
  });
});

describe('VisualAttention', () => {
  const layout = { frames: 3, height: 2, width: 3, shotStarts: [0, 2] };
  const L = 18;
  const base: VisualAttentionConfig = VisualAttention.config(16, 2, { window: [1, 2] });
  const run = (cfg: VisualAttentionConfig, x: Tensor, seed = 3) =>
    tidy(() =>
      VisualAttention.apply(VisualAttention.init(new Rng(seed), cfg), cfg, x, layout).out.dataSync(),
    );

  test('routed with M = 1 equals full attention (the gate is exactly 1)', () => {
    const x = fromArray(randArray(L * 16, 2), [L, 16]);
    const a = run({ ...base, branches: ['routed'], numGroups: 1 }, x);
    const b = run({ ...base, branches: ['full'] }, x);
    assert.ok(relErr(a, b) < 1e-6, `${relErr(a, b)}`);
  });

  test('routed per shot with M = 1 equals attention within each shot', () => {
    const x = fromArray(randArray(L * 16, 5), [L, 16]);
    const a = run({ ...base, branches: ['routed'], numGroups: 1, routedPerShot: true }, x);
    const shots = { ...base, branches: ['window'] as const, window: [1, 1] as const, adjacentFrames: 0 };
    const b = run(shots, x);
    assert.ok(relErr(a, b) < 1e-6, `${relErr(a, b)}`);
    assert.ok(relErr(a, run({ ...base, branches: ['full'] }, x)) > 1e-3, 'shots must not see each other');
  });

  test('branches are averaged: window == frame when windows are whole frames and groups are one frame', () => {
    const x = fromArray(randArray(L * 16, 4), [L, 16]);
    const cfg = { ...base, window: [1, 1] as const, temporalGroup: 1, adjacentFrames: 0 };
    const both = run({ ...cfg, branches: ['window', 'frame'] }, x);
    const frame = run({ ...cfg, branches: ['frame'] }, x);
    assert.ok(relErr(both, frame) < 1e-6);
    const full = run({ ...cfg, branches: ['full'] }, x);
    assert.ok(relErr(full, frame) > 1e-3, 'the full branch must differ from per-frame');
  });

  test('batch of two equals each sample alone', () => {
    const xa = randArray(2 * L * 16, 6);
    const cfg = { ...base, numGroups: 3 };
    const both = run(cfg, fromArray(xa, [2, L, 16]));
    const one = run(cfg, fromArray(xa.slice(0, L * 16), [L, 16]));
    const two = run(cfg, fromArray(xa.slice(L * 16), [L, 16]));
    assert.ok(relErr(both.subarray(0, L * 16), one) < 1e-6);
    assert.ok(relErr(both.subarray(L * 16), two) < 1e-6);
  });

  test('gradient reaches the router weight through the gate (central differences, float32)', () => {
    const cfg = { ...base, numGroups: 3, branches: ['routed', 'window', 'frame'] as const };
    const p = VisualAttention.init(new Rng(7), cfg);
    const x = fromArray(randArray(L * 16, 8), [L, 16]);
    const w = fromArray(randArray(L * 16, 9), [L, 16]);
    const lossOf = () => {
      const r = VisualAttention.apply(p, cfg, x, layout);
      return { loss: add(sum(mul(r.out, w)), r.balanceLoss!), ids: r.routing!.groupIds };
    };
    const rw = p.router!.proj.weight;
    const analytic = tidy(() => {
      rw.requiresGrad = true;
      const [g] = gradients(lossOf().loss, [rw]);
      rw.requiresGrad = false;
      return g!.dataSync();
    });
    const wd = rw.dataSync() as Float32Array;
    const h = 1e-2;
    let checked = 0;
    const num = new Float64Array(wd.length);
    const ana = new Float64Array(wd.length);
    noGrad(() => {
      for (let j = 0; j < wd.length; j++) {
        const at = (v: number) => {
          const a = wd.slice();
          a[j] = v;
          rw.backend.write(rw.storage, a);
          return tidy(() => {
            const r = lossOf();
            return { l: r.loss.item(), ids: Array.from(r.ids!).join() };
          });
        };
        const [lp, lm] = [at(wd[j] + h), at(wd[j] - h)];
        rw.backend.write(rw.storage, wd);
        if (lp.ids !== lm.ids) continue; // an argmax flipped: not differentiable there
        num[j] = (lp.l - lm.l) / (2 * h);
        ana[j] = analytic[j];
        checked++;
      }
    });
    assert.ok(checked > wd.length / 2, `only ${checked} coordinates without an argmax flip`);
    assert.ok(relErr(ana, num) < 0.03, `router gradient rel err ${relErr(ana, num)}`);
    assert.ok(Math.max(...ana.map(Math.abs)) > 1e-4, 'gradient must not vanish');
  });

  test('errors', () => {
    assert.throws(() => run(base, fromArray(new Float32Array(17 * 16), [17, 16])), /x must be \[18, 16\]/);
    assert.throws(() => VisualAttention.init(new Rng(1), { ...base, heads: 3 }), /not divisible/);
  });
});
