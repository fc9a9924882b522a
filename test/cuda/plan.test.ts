import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attentionForward, forwardLaunch } from '../../src/backends/cuda/attention.js';
import { fromBf16Bits, toBf16Bits } from '../../src/backends/cuda/bf16.js';
import {
  buildPlanOnGpu,
  downloadPlan,
  freePlan,
  tileBound,
  tileOffsets,
  uploadPlan,
} from '../../src/backends/cuda/plan.js';
import type { AttentionPlan } from '../../src/core/attention-plan.js';
import { mockContext, randoms } from './helpers.js';

const plan = (q: number[], qo: number[], kv: number[], ko: number[]): AttentionPlan => ({
  qIndex: Int32Array.from(q),
  qOffsets: Int32Array.from(qo),
  kvIndex: Int32Array.from(kv),
  kvOffsets: Int32Array.from(ko),
});

/** fp64 attention of one plan on host arrays, [n,h,d] token-major. */
function reference(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  h: number,
  d: number,
  p: AttentionPlan,
  nq: number,
) {
  const o = new Float64Array(nq * h * d);
  for (let s = 0; s + 1 < p.qOffsets.length; s++)
    for (let a = p.qOffsets[s]; a < p.qOffsets[s + 1]; a++)
      for (let hh = 0; hh < h; hh++) {
        const r = p.qIndex[a];
        const kv = [...p.kvIndex.subarray(p.kvOffsets[s], p.kvOffsets[s + 1])];
        const sc = kv.map((j) => {
          let x = 0;
          for (let e = 0; e < d; e++) x += q[(r * h + hh) * d + e] * k[(j * h + hh) * d + e];
          return x / Math.sqrt(d);
        });
        const m = Math.max(...sc);
        const w = sc.map((x) => Math.exp(x - m));
        const l = w.reduce((x, y) => x + y, 0);
        kv.forEach((j, t) => {
          for (let e = 0; e < d; e++) o[(r * h + hh) * d + e] += (w[t] / l) * v[(j * h + hh) * d + e];
        });
      }
  return o;
}

describe('cuda plans (mock driver)', () => {
  it('refuses a malformed plan before uploading it (the one validator, core/attention-plan.ts)', () => {
    const { ctx } = mockContext();
    assert.throws(
      () => uploadPlan(ctx, plan([1, 1], [0, 1, 2], [0, 1], [0, 1, 2]), 3, 2),
      /query row 1 is in segment 0 and again in segment 1/,
    );
    assert.throws(
      () => uploadPlan(ctx, plan([5], [0, 1], [0], [0, 1]), 3, 2),
      /query row 5 .* outside \[0, 3\)/,
    );
  });

  it('uploads a plan and computes per-segment tile offsets', () => {
    const { ctx, driver } = mockContext();
    const sizes = [0, 1, 64, 65, 130];
    const qo = [0];
    for (const s of sizes) qo.push(qo[qo.length - 1] + s);
    const n = qo[qo.length - 1];
    const idx = Array.from({ length: n }, (_, i) => n - 1 - i);
    const dp = uploadPlan(ctx, plan(idx, qo, idx, qo), n, n);
    const back = downloadPlan(ctx, dp);
    assert.deepEqual([...back.qIndex], idx);
    assert.deepEqual([...back.kvOffsets], qo);
    const t64 = driver.mem.i32(tileOffsets(ctx, dp, 'q', 64), sizes.length + 1);
    assert.deepEqual([...t64], [0, 0, 1, 2, 4, 7]);
    assert.ok(tileBound(n, sizes.length, 64) >= 7);
    freePlan(ctx, dp);
    assert.equal(driver.liveAllocations(), 0, 'every plan buffer is freed');
  });

  it('builds the MoGA plan from router logits (argmax + counting sort)', () => {
    const { ctx, driver } = mockContext();
    const n = 500;
    const m = 6;
    const logits = randoms(7, n * m);
    const dl = ctx.temp(logits.byteLength);
    driver.upload(dl, logits);
    const dp = buildPlanOnGpu(ctx, dl, n, m);
    const got = downloadPlan(ctx, dp);
    const counts = new Array(m).fill(0);
    for (let i = 0; i < n; i++) {
      let b = 0;
      for (let j = 1; j < m; j++) if (logits[i * m + j] > logits[i * m + b]) b = j;
      counts[b]++;
      const s = got.qOffsets.findLastIndex((o) => o <= got.qIndex.indexOf(i));
      assert.equal(s, b, `token ${i} is in its argmax group`);
    }
    assert.deepEqual(
      [...got.qOffsets].slice(1).map((o, j) => o - got.qOffsets[j]),
      counts,
    );
    assert.deepEqual(
      [...got.qIndex].sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i),
    );
    freePlan(ctx, dp);
    ctx.release(dl);
    assert.equal(driver.liveAllocations(), 0);
  });

  for (const warps of [4, 8] as const)
    it(`runs the bf16 forward over every tile of an irregular plan (${warps} warps)`, () => {
      const { ctx, driver } = mockContext();
      const [nq, nk, h, d] = [300, 200, 2, 64];
      // segments: 150 queries (3 tiles at 64 rows), an empty one, 1 query, 40 queries with no keys
      const qIdx = Array.from({ length: 191 }, (_, i) => (i * 7) % nq);
      const p = plan(
        qIdx,
        [0, 150, 150, 151, 191],
        [...Array(120).keys(), 5, ...Array(3).keys()],
        [0, 120, 121, 124, 124],
      );
      const q = Float32Array.from(fromBf16Bits(toBf16Bits(randoms(1, nq * h * d, 2))));
      const k = Float32Array.from(fromBf16Bits(toBf16Bits(randoms(2, nk * h * d))));
      const v = Float32Array.from(fromBf16Bits(toBf16Bits(randoms(3, nk * h * d))));
      const up = (a: Float32Array) => {
        const ptr = ctx.temp(a.length * 2);
        driver.upload(ptr, toBf16Bits(a));
        return ptr;
      };
      const dp = uploadPlan(ctx, p, nq, nk);
      const t = { q: up(q), k: up(k), v: up(v), o: ctx.temp(nq * h * d * 2), lse: ctx.temp(nq * h * 4) };
      driver.memset(t.o, 0x7f, nq * h * d * 2);
      const s = { nq, nk, heads: h, dim: d, dtype: 'bfloat16' as const };
      attentionForward(ctx, s, t, dp, { warps });
      const launch = driver.launches.find((l) => l.f.name === `attn_fwd_bf16_w${warps}_d${d}`);
      assert.ok(launch, 'the tensor-core kernel for this head size was launched');
      assert.deepEqual(launch.cfg, forwardLaunch(s, dp, warps));
      assert.equal(launch.cfg.grid[1], h);
      const got = fromBf16Bits(driver.mem.u16(t.o, nq * h * d));
      const ref = reference(q, k, v, h, d, p, nq);
      let num = 0;
      let den = 0;
      for (let i = 0; i < ref.length; i++) {
        num += (got[i] - ref[i]) ** 2;
        den += ref[i] ** 2;
      }
      assert.ok(Math.sqrt(num / den) < 1e-2, `relative error ${Math.sqrt(num / den)}`);
      const planned = new Set(qIdx.slice(0, 151));
      for (let r = 0; r < nq; r++)
        if (!planned.has(r))
          for (let e = 0; e < h * d; e++) assert.equal(got[r * h * d + e], 0, `row ${r} has no keys: zero`);
      assert.equal(driver.mem.f32(t.lse + 4 * (qIdx[160] * h), 1)[0], Number.NEGATIVE_INFINITY);
    });

  it('refuses head sizes the bf16 kernels do not cover', () => {
    const { ctx } = mockContext();
    const dp = uploadPlan(ctx, plan([0], [0, 1], [0], [0, 1]), 1, 1);
    const t = { q: 0, k: 0, v: 0, o: ctx.temp(4 * 96), lse: ctx.temp(4) };
    assert.throws(
      () => attentionForward(ctx, { nq: 1, nk: 1, heads: 1, dim: 96, dtype: 'bfloat16' }, t, dp),
      /head dim 64 or 128/,
    );
  });
});
