/**
 * Timing at video scale: N tokens, H heads, D = 128, bf16, MoGA plans with M groups built on the
 * GPU from random router logits. CUDA events around each call; smallest M first so a slow kernel
 * is seen before the expensive M = 1 runs, which are skipped when they would overrun the budget.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attentionBackward, attentionForward } from '../../src/backends/cuda/attention.js';
import type { DevPtr } from '../../src/backends/cuda/driver-types.js';
import { type CudaContext, grid1d } from '../../src/backends/cuda/kernels.js';
import { buildPlanOnGpu, freePlan } from '../../src/backends/cuda/plan.js';

export interface TimingRow {
  m: number;
  groupMin: number;
  groupMax: number;
  /** Forward FLOPs: 4 * H * D * sum of squared group sizes; backward counted as 2.5x that. */
  flops: number;
  planMs: number;
  fwdMs: Record<string, number>;
  bwdMs?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function runTiming(
  ctx: CudaContext,
  o: { n: number; h: number; d: number; ms: number[]; seed: number; budgetS: number; planDir: string },
  log: (s: string) => void,
): TimingRow[] {
  const d = ctx.driver;
  const t0 = Date.now();
  const left = () => o.budgetS - (Date.now() - t0) / 1000;
  const { n, h, d: dim } = o;
  const elems = n * h * dim;
  const fill = (p: DevPtr, count: number, seed: number, bf: boolean) =>
    ctx.launch(
      'elementwise',
      bf ? 'fill_uniform_bf16' : 'fill_uniform_f32',
      grid1d(Math.min(count, 65535 * 256)),
      [{ ptr: p }, { i64: count }, { i64: seed }, { f32: 1 }],
    );
  const t = {
    q: d.alloc(elems * 2),
    k: d.alloc(elems * 2),
    v: d.alloc(elems * 2),
    o: d.alloc(elems * 2),
    lse: d.alloc(n * h * 4),
  };
  fill(t.q, elems, o.seed + 1, true);
  fill(t.k, elems, o.seed + 2, true);
  fill(t.v, elems, o.seed + 3, true);
  const shape = { nq: n, nk: n, heads: h, dim, dtype: 'bfloat16' as const };
  const time = (f: () => void) => {
    const a = d.record();
    f();
    const b = d.record();
    return d.elapsed(a, b);
  };
  const rows: TimingRow[] = [];
  const plans = new Map<number, ReturnType<typeof buildPlanOnGpu>>();
  for (const m of [...o.ms].sort((a, b) => b - a)) {
    const logits = d.alloc(n * m * 4);
    fill(logits, n * m, o.seed + 10 + m, false);
    let plan = buildPlanOnGpu(ctx, logits, n, m); // warm-up
    freePlan(ctx, plan);
    const planTimes: number[] = [];
    for (let r = 0; r < 3; r++) {
      if (r > 0) freePlan(ctx, plan);
      planTimes.push(time(() => (plan = buildPlanOnGpu(ctx, logits, n, m))));
    }
    d.free(logits);
    plans.set(m, plan);
    const offsets = new Int32Array(m + 1);
    d.download(offsets, plan.qOffsets);
    const index = new Int32Array(n);
    d.download(index, plan.qIndex);
    const sizes = Array.from({ length: m }, (_, i) => offsets[i + 1] - offsets[i]);
    const flops = 4 * h * dim * sizes.reduce((s, x) => s + x * x, 0);
    // the same groups for the PyTorch baseline: [m, offsets (m+1), index (n)] int32
    const buf = new Int32Array(1 + m + 1 + n);
    buf[0] = m;
    buf.set(offsets, 1);
    buf.set(index, m + 2);
    writeFileSync(join(o.planDir, `plan-${m}.bin`), buf);
    const row: TimingRow = {
      m,
      groupMin: Math.min(...sizes),
      groupMax: Math.max(...sizes),
      flops,
      planMs: median(planTimes),
      fwdMs: {},
    };
    for (const warps of [4, 8] as const) {
      const tflops = rows.length
        ? Math.min(...rows.flatMap((r) => Object.values(r.fwdMs).map((ms) => r.flops / ms / 1e9)))
        : 0;
      const predictS = tflops ? flops / (tflops * 1e12) : 0;
      if (predictS * 2 > left()) {
        log(`skip fwd M=${m} w${warps}: predicted ${predictS.toFixed(1)} s, ${left().toFixed(0)} s left`);
        continue;
      }
      const reps = predictS > 3 ? 1 : 3;
      attentionForward(ctx, shape, t, plan, { warps }); // warm-up (and the tile offsets)
      d.sync();
      const times = Array.from({ length: reps }, () =>
        time(() => attentionForward(ctx, shape, t, plan, { warps })),
      );
      row.fwdMs[`w${warps}`] = median(times);
      log(
        `fwd  M=${m} w${warps}: ${median(times).toFixed(2)} ms  ${(flops / median(times) / 1e9).toFixed(1)} TFLOP/s  (${reps} reps; plan ${row.planMs.toFixed(2)} ms; groups ${row.groupMin}..${row.groupMax})`,
      );
    }
    rows.push(row);
  }
  // backward: dO random, dq/dk/dv fp32
  const g = {
    ...t,
    dO: d.alloc(elems * 2),
    dq: d.alloc(elems * 4),
    dk: d.alloc(elems * 4),
    dv: d.alloc(elems * 4),
  };
  fill(g.dO, elems, o.seed + 4, true);
  for (const row of rows) {
    const plan = plans.get(row.m)!;
    const fwd = Math.min(...Object.values(row.fwdMs));
    if (!Number.isFinite(fwd) || (fwd / 1000) * 5 > left()) {
      log(`skip bwd M=${row.m}: ${left().toFixed(0)} s left`);
      continue;
    }
    attentionForward(ctx, shape, t, plan, { warps: 4 });
    const reps = fwd > 1500 ? 1 : 2;
    row.bwdMs = median(
      Array.from({ length: reps }, () => time(() => attentionBackward(ctx, shape, g, plan))),
    );
    log(
      `bwd  M=${row.m}: ${row.bwdMs.toFixed(2)} ms  ${((2.5 * row.flops) / row.bwdMs / 1e9).toFixed(1)} TFLOP/s (2.5x fwd FLOPs)`,
    );
  }
  for (const plan of plans.values()) freePlan(ctx, plan);
  for (const p of Object.values(g)) d.free(p);
  return rows;
}
