/**
 * groupedAttention equals dense attention under the plan's boolean mask (computed here, in float64)
 * on ref, wasm and native (an unavailable one fails, or skips where test/backends/required.ts allows), for every plan builder and the awkward cases; gradients by
 * finite differences (float64 ref evaluation) and backend-vs-ref backward agreement.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { groupedAttention } from '../../src/attention/grouped-attention.js';
import type { AttentionPlan } from '../../src/attention/plan.js';
import { plans } from '../../src/attention/plans.js';
import { type Backend, initBackend } from '../../src/backends/index.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { mul, sum } from '../../src/tensor/ops.js';
import { fromArray, tidy } from '../../src/tensor/tensor.js';
import { describeNeeding } from '../backends/required.js';
import { checkOpGrad, f } from '../helpers/gradcheck.js';
import { denseMasked, planMask, randArray, relErr } from './dense.js';

const backends: [string, Backend | string][] = [];
for (const name of ['ref', 'wasm', 'native']) {
  try {
    backends.push([name, await initBackend(name)]);
  } catch (e) {
    backends.push([name, (e as Error).message]);
  }
}

/** Runs the kernel on `be` and compares to the dense oracle; returns the relative error. */
function check(
  be: Backend,
  plan: AttentionPlan,
  nq: number,
  nk: number,
  H: number,
  D: number,
  seed = 1,
): number {
  const qa = randArray(nq * H * D, seed, 2);
  const ka = randArray(nk * H * D, seed + 1, 2);
  const va = randArray(nk * H * D, seed + 2);
  const got = tidy(() => {
    const q = fromArray(qa, [nq, H, D], be);
    const k = fromArray(ka, [nk, H, D], be);
    const v = fromArray(va, [nk, H, D], be);
    return groupedAttention(q, k, v, plan).dataSync();
  });
  const want = denseMasked(qa, ka, va, planMask(plan, nq, nk), [nq, nk, H, D]);
  const err = relErr(got, want);
  assert.ok(
    err <= 1e-5,
    `relative error ${err.toExponential(2)} > 1e-5 (nq ${nq}, nk ${nk}, H ${H}, D ${D})`,
  );
  return err;
}

function routedIds(n: number, m: number, seed: number): Int32Array {
  const r = randArray(n, seed);
  return Int32Array.from(r, (x) => Math.min(m - 1, Math.floor(((x + 1) / 2) * m)));
}

/** A suite that needs `be` (an unavailable one fails it, or skips it where required.ts allows). */
function describeOn(name: string, be: Backend | string, title: string, body: () => void): void {
  describeNeeding(name, typeof be === 'string' ? be : undefined, title, body);
}

for (const [name, be] of backends) {
  const B = be as Backend;
  describeOn(name, be, `groupedAttention == dense masked attention (${name})`, () => {
    for (const D of [8, 64, 128, 12, 2])
      test(`full, N prime (37), D ${D}`, () => {
        check(B, plans.full(37), 37, 37, 2, D);
      });
    test('one giant group over several tiles (N 131, prime)', () => {
      check(B, plans.routed(new Int32Array(131), 4), 131, 131, 2, 16);
    });
    for (const D of [8, 64, 128])
      test(`routed with an empty and a single-token group, D ${D}`, () => {
        const ids = routedIds(53, 6, 7).map((g) => (g === 2 ? 3 : g)); // group 2 empty
        ids[10] = 5;
        for (let i = 0; i < ids.length; i++) if (ids[i] === 5 && i !== 10) ids[i] = 0; // group 5: one token
        const plan = plans.routed(ids, 6);
        assert.equal(plan.qOffsets[3] - plan.qOffsets[2], 0);
        assert.equal(plan.qOffsets[6] - plan.qOffsets[5], 1);
        check(B, plan, 53, 53, 3, D);
      });
    test('routed with M = 1 equals full attention', () => {
      const n = 41;
      const [qa, ka, va] = [randArray(n * 2 * 8, 3), randArray(n * 2 * 8, 4), randArray(n * 2 * 8, 5)];
      const run = (plan: AttentionPlan) =>
        tidy(() =>
          groupedAttention(
            fromArray(qa, [n, 2, 8], B),
            fromArray(ka, [n, 2, 8], B),
            fromArray(va, [n, 2, 8], B),
            plan,
          ).dataSync(),
        );
      assert.deepEqual(run(plans.routed(new Int32Array(n), 1)), run(plans.full(n)));
    });
    test('per-frame', () => {
      check(B, plans.perFrame({ frames: 3, height: 3, width: 5 }), 45, 45, 2, 8);
    });
    test('windows x temporal groups with shots and adjacent-shot frames', () => {
      const layout = { frames: 7, height: 4, width: 5, shotStarts: [0, 3, 5] };
      check(B, plans.windows(layout, { window: [2, 2], temporalGroup: 2 }), 140, 140, 2, 8);
      check(B, plans.windows(layout, { window: [2, 3], adjacentFrames: 1 }), 140, 140, 1, 64);
    });
    test('batch of per-sample plans', () => {
      const plan = plans.batch([
        { plan: plans.routed(routedIds(20, 3, 9), 3), qRows: 20 },
        { plan: plans.full(17), qRows: 17 },
      ]);
      check(B, plan, 37, 37, 2, 8);
    });
    test('uncovered rows, queries without keys, keys without queries, repeated kv rows, nq != nk', () => {
      const plan = plans.fromSegments([
        { q: [0, 5, 2], kv: [1, 3, 4, 8] },
        { q: [], kv: [2, 3] },
        { q: [7], kv: [] },
        { q: [3], kv: [3] },
        { q: [6, 1], kv: [0, 1, 2, 3, 4, 5, 6, 7, 8] },
      ]); // row 4 in no segment; nk = 9 > nq = 8
      check(B, plan, 8, 9, 2, 8);
    });
  });
}

describe('groupedAttention gradients', () => {
  const plan = plans.fromSegments([
    { q: [0, 3, 4], kv: [0, 1, 3, 4, 6] },
    { q: [1, 5], kv: [1, 2, 5, 6] }, // kv rows 1 and 6 shared with segment 0
    { q: [6], kv: [] },
    { q: [2], kv: [2] },
  ]); // query row 7 in no segment
  const p = { ...plan, scale: 0.6 };
  test('finite differences for q, k, v (float64 evaluation)', () => {
    checkOpGrad('groupedAttention', [f([8, 2, 4], 1), f([7, 2, 4], 2), f([7, 2, 4], 3)], p);
  });
  test('one segment spanning several key and query tiles', () => {
    checkOpGrad('groupedAttention', [f([40, 1, 2], 4), f([40, 1, 2], 5), f([40, 1, 2], 6)], {
      ...plans.full(40),
      scale: 0.5,
    });
  });
  for (const [name, be] of backends.filter(([n]) => n !== 'ref')) {
    // Sizes large enough for the multi-threaded paths: query ranges of one giant segment split
    // across threads, disjoint routed groups, and STGA plans whose key rows repeat across segments.
    const L = { frames: 6, height: 6, width: 8, shotStarts: [0, 2, 3] };
    const cases: [string, AttentionPlan, number, number][] = [
      ['full', plans.full(301), 301, 2],
      ['full, one head: queries split across threads in the backward', plans.full(301), 301, 1],
      ['routed', plans.routed(routedIds(288, 3, 11), 3), 288, 2],
      ['windows', plans.windows(L, { window: [2, 2], temporalGroup: 2 }), 288, 2],
    ];
    describeOn(name, be, `forward and backward on ${name}`, () => {
      for (const [what, plan, n, H] of cases)
        test(`equal ref (${what}, N ${n})`, () => {
          const ref = backends[0][1] as Backend;
          const D = 64;
          const data = [
            randArray(n * H * D, 1, 2),
            randArray(n * H * D, 2, 2),
            randArray(n * H * D, 3),
            randArray(n * H * D, 4),
          ];
          const run = (b: Backend) =>
            tidy(() => {
              const [q, k, v] = [0, 1, 2].map((i) => fromArray(data[i], [n, H, D], b));
              for (const t of [q, k, v]) t.requiresGrad = true;
              const o = groupedAttention(q, k, v, plan);
              const l = sum(mul(o, fromArray(data[3], [n, H, D], b)));
              return [o.dataSync(), ...gradients(l, [q, k, v]).map((g) => g!.dataSync())];
            });
          const [a, r] = [run(be as Backend), run(ref)];
          a.forEach((x, i) =>
            assert.ok(relErr(x, r[i]) < 1e-5, `${['out', 'dq', 'dk', 'dv'][i]}: ${relErr(x, r[i])}`),
          );
        });
    });
  }
});

describe('groupedAttention errors', () => {
  const q = () => fromArray(new Float32Array(4 * 2), [4, 1, 2]);
  test('a bad plan names the segment and index', () => {
    const bad = plans.fromSegments([
      { q: [0, 1], kv: [0] },
      { q: [2, 1], kv: [9] },
    ]);
    assert.throws(
      () => groupedAttention(q(), q(), q(), bad),
      /query row 1 is in segment 0 and again in segment 1/,
    );
    const oob = plans.fromSegments([
      { q: [0], kv: [0] },
      { q: [3], kv: [4] },
    ]);
    assert.throws(
      () => groupedAttention(q(), q(), q(), oob),
      /segment 1 has key\/value row 4 \(kvIndex\[1\]\) outside \[0, 4\)/,
    );
    const off = { ...plans.full(4), qOffsets: Int32Array.of(0, 3) };
    assert.throws(() => groupedAttention(q(), q(), q(), off), /qOffsets ends at 3 but qIndex has 4 entries/);
  });
  test('shape mismatch', () => {
    assert.throws(
      () => groupedAttention(q(), fromArray(new Float32Array(8), [4, 2, 1]), q(), plans.full(4)),
      /grouped attention needs/,
    );
  });
});
