/** Exact-plan tests: coverage, grouping, shot boundaries, batching and errors of every builder. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AttentionPlan, numSegments, validatePlan } from '../../src/attention/plan.js';
import { type GridLayout, plans, shotOfFrame } from '../../src/attention/plans.js';
import { randArray } from './dense.js';

function segmentsOf(plan: AttentionPlan): { q: number[]; kv: number[] }[] {
  return Array.from({ length: numSegments(plan) }, (_, s) => ({
    q: Array.from(plan.qIndex.subarray(plan.qOffsets[s], plan.qOffsets[s + 1])),
    kv: Array.from(plan.kvIndex.subarray(plan.kvOffsets[s], plan.kvOffsets[s + 1])),
  }));
}

/** Every token is a query of exactly one segment. */
function assertPartition(plan: AttentionPlan, n: number) {
  validatePlan(plan, n, n);
  const seen = new Uint8Array(n);
  for (const r of plan.qIndex) seen[r]++;
  assert.ok(
    seen.every((c) => c === 1),
    'every token must be a query exactly once',
  );
}

const coords = (t: number, L: GridLayout) => ({
  f: Math.floor(t / (L.height * L.width)),
  y: Math.floor(t / L.width) % L.height,
  x: t % L.width,
});

describe('plans', () => {
  test('full', () => {
    const p = plans.full(5);
    assert.deepEqual(segmentsOf(p), [{ q: [0, 1, 2, 3, 4], kv: [0, 1, 2, 3, 4] }]);
    assert.equal(plans.pairs(p), 25);
    assert.equal(numSegments(plans.full(0)), 1);
  });

  test('routed: a stable counting sort, one segment per group, empty groups kept', () => {
    const ids = Int32Array.of(2, 0, 2, 3, 0, 2);
    const p = plans.routed(ids, 5);
    assert.deepEqual(segmentsOf(p), [
      { q: [1, 4], kv: [1, 4] },
      { q: [], kv: [] },
      { q: [0, 2, 5], kv: [0, 2, 5] },
      { q: [3], kv: [3] },
      { q: [], kv: [] },
    ]);
    const big = Int32Array.from(randArray(1000, 3), (x) => Math.floor(((x + 1) / 2) * 7));
    const bp = plans.routed(big, 7);
    assertPartition(bp, 1000);
    segmentsOf(bp).forEach((s, g) => {
      assert.ok(s.q.every((t) => big[t] === g));
      assert.ok(s.q.every((t, i) => i === 0 || t > s.q[i - 1]));
    });
    assert.throws(() => plans.routed(Int32Array.of(0, 5), 5), /token 1 has group id 5 outside \[0, 5\)/);
  });

  test('routed per shot never crosses a cut', () => {
    const L = { frames: 5, height: 2, width: 3, shotStarts: [0, 2] };
    const ids = Int32Array.from(randArray(30, 8), (x) => Math.floor(((x + 1) / 2) * 3));
    const p = plans.routed(ids, 3, { perShot: L });
    assertPartition(p, 30);
    assert.equal(numSegments(p), 6);
    const shot = shotOfFrame(L);
    for (const s of segmentsOf(p)) {
      const shots = new Set(s.q.map((t) => shot[coords(t, L).f]));
      assert.ok(shots.size <= 1);
      assert.ok(new Set(s.q.map((t) => ids[t])).size <= 1);
    }
  });

  test('per-frame', () => {
    const L = { frames: 3, height: 2, width: 2 };
    const p = plans.perFrame(L);
    assertPartition(p, 12);
    assert.deepEqual(segmentsOf(p)[1], { q: [4, 5, 6, 7], kv: [4, 5, 6, 7] });
  });

  describe('windows (STGA)', () => {
    const L: GridLayout = { frames: 11, height: 5, width: 7, shotStarts: [0, 4, 5, 9] };
    const shot = shotOfFrame(L);
    const starts = [0, 4, 5, 9, 11];
    for (const opts of [
      { window: [2, 2] as const },
      { window: [2, 3] as const, temporalGroup: 2 },
      { window: [1, 1] as const, temporalGroup: 3, adjacentFrames: 1 },
      { window: [5, 7] as const, adjacentFrames: 0 },
    ])
      test(`coverage, locality, cuts: ${JSON.stringify(opts)}`, () => {
        const p = plans.windows(L, opts);
        const n = 11 * 5 * 7;
        assertPartition(p, n);
        const a = opts.adjacentFrames ?? 2;
        const tg = opts.temporalGroup ?? Number.POSITIVE_INFINITY;
        for (const s of segmentsOf(p)) {
          if (s.q.length === 0) continue;
          const c0 = coords(s.q[0], L);
          const qs = shot[c0.f];
          const qSet = new Set(s.q);
          for (const t of s.q) {
            const c = coords(t, L);
            assert.equal(shot[c.f], qs, 'queries of a segment are in one shot');
            assert.equal(
              Math.floor((c.f - starts[qs]) / tg),
              Math.floor((c0.f - starts[qs]) / tg),
              'one temporal group',
            );
          }
          for (const t of s.kv) {
            const c = coords(t, L);
            const ks = shot[c.f];
            if (ks === qs) {
              assert.ok(qSet.has(t), 'same-shot keys are exactly the queries of the segment');
              continue;
            }
            // The only cross-shot keys: the `a` frames right across a cut of the query's shot.
            assert.ok(a > 0, 'no cross-shot keys without adjacent frames');
            if (ks === qs - 1)
              assert.ok(c.f >= starts[qs] - a, `frame ${c.f} too far before the cut at ${starts[qs]}`);
            else if (ks === qs + 1) assert.ok(c.f < starts[qs + 1] + a, `frame ${c.f} too far after the cut`);
            else assert.fail(`segment of shot ${qs} sees shot ${ks}`);
          }
          // Queries fill one box (frames x window rows x window cols) whose size matches the windows
          // per side; keys stay inside the same spatial window.
          const ys = new Set(s.q.map((t) => coords(t, L).y));
          const xs = new Set(s.q.map((t) => coords(t, L).x));
          const fs = new Set(s.q.map((t) => coords(t, L).f));
          assert.equal(s.q.length, ys.size * xs.size * fs.size);
          assert.ok(ys.size >= Math.floor(5 / opts.window[0]) && ys.size <= Math.ceil(5 / opts.window[0]));
          assert.ok(xs.size >= Math.floor(7 / opts.window[1]) && xs.size <= Math.ceil(7 / opts.window[1]));
          for (const t of s.kv)
            assert.ok(ys.has(coords(t, L).y) && xs.has(coords(t, L).x), 'key outside the window');
        }
      });

    test('adjacent-shot frames reach both neighbours, queries never do', () => {
      const p = plans.windows(L, { window: [1, 1] });
      const segs = segmentsOf(p);
      assert.equal(segs.length, 4);
      const frames = (ts: number[]) => [...new Set(ts.map((t) => coords(t, L).f))].sort((x, y) => x - y);
      assert.deepEqual(frames(segs[1].q), [4]); // one-frame shot
      assert.deepEqual(frames(segs[1].kv), [2, 3, 4, 5, 6]);
      assert.deepEqual(frames(segs[0].kv), [0, 1, 2, 3, 4]); // only one neighbour frame exists (shot 1 is 1 frame)
      assert.deepEqual(frames(segs[3].kv), [7, 8, 9, 10]);
    });

    test('errors', () => {
      assert.throws(
        () => plans.windows({ ...L, shotStarts: [1, 3] }, { window: [1, 1] }),
        /shotStarts must start with 0/,
      );
      assert.throws(
        () => plans.windows({ ...L, shotStarts: [0, 3, 3] }, { window: [1, 1] }),
        /must increase/,
      );
      assert.throws(() => plans.windows(L, { window: [6, 1] }), /windows per side/);
      assert.throws(() => plans.windows(L, { window: [1, 1], temporalGroup: 0 }), /temporalGroup/);
      assert.throws(
        () => plans.perFrame({ frames: 0, height: 2, width: 2 }),
        /frames must be a positive integer/,
      );
    });
  });

  test('batch shifts each sample by the rows before it', () => {
    const p = plans.batch([
      { plan: plans.routed(Int32Array.of(1, 0, 1), 2), qRows: 3 },
      { plan: plans.full(2), qRows: 2 },
    ]);
    assert.deepEqual(segmentsOf(p), [
      { q: [1], kv: [1] },
      { q: [0, 2], kv: [0, 2] },
      { q: [3, 4], kv: [3, 4] },
    ]);
    assertPartition(p, 5);
  });
});
