import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plans } from '../../src/attention/plans.js';
import { branchPairs, ditCost, ditParamCount, tokenGrid } from '../../src/models/cost.js';
import { initVideoDiT } from '../../src/models/dit/dit.js';
import { DIT_PRESETS, ditPreset, FULL_ATTENTION, MOGA_ATTENTION } from '../../src/models/presets.js';
import { countParams, disposeParams, type Params } from '../../src/nn/params.js';
import { Rng } from '../../src/tensor/random.js';

const wan = DIT_PRESETS['wan2.1-1.3b'];
const video = (seconds: number) => ({ frames: seconds * 16, height: 480, width: 832 });

describe('cost model', () => {
  it('counts tokens as the paper does (4x8x8 VAE, 1x2x2 patch)', () => {
    assert.deepEqual(
      [5, 10, 30].map((s) => tokenGrid(wan, video(s)).tokens),
      [31200, 62400, 187200],
    );
    assert.deepEqual(tokenGrid(wan, { frames: 477, height: 480, width: 832 }), {
      f: 120,
      h: 30,
      w: 52,
      tokens: 187200,
    });
    assert.equal(tokenGrid(wan, { frames: 1441, height: 480, width: 832 }).f, 361);
    assert.throws(
      () => tokenGrid(wan, { frames: 80, height: 470, width: 832 }),
      /not divisible by VAE x patch \(16x16\)/,
    );
  });

  it("reproduces Table 5's full-attention PFLOPs for Wan2.1-1.3B within 10%", () => {
    const paper = [0.28, 0.88, 6.94];
    [5, 10, 30].forEach((s, i) => {
      const pf = ditCost(wan, video(s), { attention: FULL_ATTENTION }).flops.total / 1e15;
      assert.ok(Math.abs(pf - paper[i]) / paper[i] < 0.1, `${s} s: ${pf.toFixed(3)} vs ${paper[i]}`);
    });
  });

  it('reproduces 71.25% sparsity at 10 s and 2.26 PFLOPs at 30 s for M = 5 (4 temporal groups)', () => {
    const moga = (s: number) => {
      const f = tokenGrid(wan, video(s)).f;
      return ditCost(wan, video(s), { attention: { ...MOGA_ATTENTION, temporalGroup: Math.floor(f / 4) } });
    };
    assert.ok(Math.abs(moga(10).density - 0.2875) < 1e-9);
    const pf = moga(30).flops.total / 1e15;
    assert.ok(Math.abs(pf - 2.26) / 2.26 < 0.03, `${pf}`);
  });

  it('counts Wan2.1 parameters near the published sizes', () => {
    const dense = (c: typeof wan) => ditParamCount({ ...c, attention: FULL_ATTENTION });
    // Wan2.1's 1.3B model has 1.42e9 parameters; the 14B model 1.4e10
    assert.ok(Math.abs(dense(wan) - 1.42e9) / 1.42e9 < 0.02, `${dense(wan)}`);
    const big = dense(DIT_PRESETS['wan2.1-14b']);
    assert.ok(Math.abs(big - 14e9) / 14e9 < 0.05, `${big}`);
  });

  it('adds the router only with a routed branch, and FLOPs scale with layers', () => {
    const tiny = DIT_PRESETS.tiny;
    const withRouter = ditParamCount(tiny);
    const without = ditParamCount({ ...tiny, attention: FULL_ATTENTION });
    assert.equal(withRouter - without, tiny.layers * tiny.dim * tiny.attention.groups); // no router bias
    const v = { frames: 9, height: 64, width: 64 };
    const one = ditCost({ ...tiny, layers: 1 }, v);
    const two = ditCost({ ...tiny, layers: 2 }, v);
    assert.equal(two.flops.attention, 2 * one.flops.attention);
  });

  it('counts window and frame pairs exactly as the plan builders build them', () => {
    const grid = { f: 7, h: 5, w: 6, tokens: 210 };
    const shots = [3, 1, 3];
    const layout = { frames: 7, height: 5, width: 6, shotStarts: [0, 3, 4] };
    for (const [temporalGroup, adjacentFrames] of [
      [0, 2],
      [2, 2],
      [2, 0],
      [1, 1],
    ]) {
      const att = { ...MOGA_ATTENTION, window: [2, 3] as [number, number], temporalGroup, adjacentFrames };
      const plan = plans.windows(layout, {
        window: att.window,
        adjacentFrames,
        ...(temporalGroup ? { temporalGroup } : {}),
      });
      assert.equal(
        branchPairs('window', grid, att, shots),
        plans.pairs(plan),
        `tg ${temporalGroup} adj ${adjacentFrames}`,
      );
    }
    assert.equal(branchPairs('frame', grid, MOGA_ATTENTION, shots), plans.pairs(plans.perFrame(layout)));
    assert.equal(branchPairs('full', grid, MOGA_ATTENTION, shots), plans.pairs(plans.full(210)));
  });

  it('counts exactly the parameters VideoDiT allocates (tiny, with and without router, a cell head, more inputs)', () => {
    for (const cfg of [
      DIT_PRESETS.tiny,
      { ...DIT_PRESETS.tiny, attention: FULL_ATTENTION, layers: 3 },
      { ...DIT_PRESETS.tiny, cellHead: { hidden: 8, features: 3 } },
      { ...DIT_PRESETS.tiny, conditioning: true },
      { ...DIT_PRESETS.tiny, conditioning: true, selfCondition: true },
    ]) {
      const model = initVideoDiT(cfg, new Rng(1));
      assert.equal(ditParamCount(cfg), countParams(model.params as unknown as Params));
      disposeParams(model.params as unknown as Params);
    }
  });

  it('counts routed pairs as plans.routed builds them for a balanced router', () => {
    const grid = { f: 6, h: 2, w: 5, tokens: 60 };
    const layout = { frames: 6, height: 2, width: 5, shotStarts: [0, 2] };
    const att = { ...MOGA_ATTENTION, groups: 5 };
    const ids = Int32Array.from({ length: 60 }, (_, i) => i % 5);
    assert.equal(branchPairs('routed', grid, att, [6]), plans.pairs(plans.routed(ids, 5)));
    assert.equal(
      branchPairs('routed', grid, att, [2, 4], true),
      plans.pairs(plans.routed(ids, 5, { perShot: layout })),
    );
  });

  it('presets are frozen plain data, looked up by name with a clear error', () => {
    assert.ok(Object.isFrozen(DIT_PRESETS.tiny) && Object.isFrozen(DIT_PRESETS.tiny.attention));
    assert.throws(() => {
      (DIT_PRESETS.tiny as { layers: number }).layers = 9;
    }, TypeError);
    assert.equal(ditPreset('wan2.1-14b').dim, 5120);
    assert.throws(
      () => ditPreset('wan2.2'),
      /unknown DiT preset 'wan2.2' \(known: tiny, small, wan2.1-1.3b, wan2.1-14b\)/,
    );
    const four = { ...DIT_PRESETS.tiny, layers: 4 };
    assert.equal(four.layers, 4);
    assert.equal(DIT_PRESETS.tiny.layers, 2);
  });

  it('refuses shots that do not cover the latent frames', () => {
    assert.throws(() => ditCost(wan, video(5), { shots: [10, 5] }), /summing to 20/);
  });
});
