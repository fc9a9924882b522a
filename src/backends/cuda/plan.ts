/**
 * Attention plans on the device: the arrays of a host plan (core/attention-plan.ts) in device
 * memory. Plans come from the host (validated by the one validator, uploaded) or are
 * built on the GPU from router logits or group ids (argmax, counting sort), which costs
 * milliseconds at 578k. Every buffer comes from ctx.temp, so it counts in the backend's liveBytes.
 */
import { type AttentionPlan, validatePlan } from '../../core/attention-plan.js';
import type { DevPtr } from './driver-types.js';
import { type CudaContext, grid1d } from './kernels.js';

export interface DevicePlan {
  readonly qIndex: DevPtr;
  readonly qOffsets: DevPtr;
  readonly kvIndex: DevPtr;
  readonly kvOffsets: DevPtr;
  readonly segments: number;
  /** Entries of qIndex / kvIndex (upper bounds are enough for launch sizes). */
  readonly qPositions: number;
  readonly kvPositions: number;
  /** Per-segment tile offsets by key ('q64', 'kv64', ...), computed on first use. */
  readonly tiles: Map<string, DevPtr>;
  /** Buffers to free with the plan. */
  readonly owned: DevPtr[];
}

function uploadInts(ctx: CudaContext, a: Int32Array): DevPtr {
  const p = ctx.temp(a.byteLength);
  ctx.driver.upload(p, a);
  return p;
}

export function uploadPlan(ctx: CudaContext, p: AttentionPlan, nq: number, nk: number): DevicePlan {
  validatePlan(p, nq, nk);
  const owned = [p.qIndex, p.qOffsets, p.kvIndex, p.kvOffsets].map((a) => uploadInts(ctx, a));
  return {
    qIndex: owned[0],
    qOffsets: owned[1],
    kvIndex: owned[2],
    kvOffsets: owned[3],
    segments: p.qOffsets.length - 1,
    qPositions: p.qIndex.length,
    kvPositions: p.kvIndex.length,
    tiles: new Map(),
    owned,
  };
}

/**
 * MoGA's plan from router logits [n, m] (fp32, on the device): token i joins group argmax_m, and
 * each group attends to itself. Group order inside a segment follows atomics (not stable).
 */
export function buildPlanOnGpu(ctx: CudaContext, logits: DevPtr, n: number, m: number): DevicePlan {
  const groups = ctx.temp(n * 4);
  ctx.launch('plan', 'route_argmax', grid1d(n), [{ ptr: logits }, { ptr: groups }, { i32: n }, { i32: m }]);
  const plan = groupPlanOnGpu(ctx, groups, n, m);
  ctx.release(groups);
  return plan;
}

/**
 * The plan of segment keys [n] (int32 in [0, m), on the device; a key outside is in no segment):
 * segment s holds the tokens with key s, as queries and as keys/values (a counting sort).
 */
export function groupPlanOnGpu(ctx: CudaContext, groups: DevPtr, n: number, m: number): DevicePlan {
  const d = ctx.driver;
  const counts = ctx.temp((m + 1) * 4);
  const offsets = ctx.temp((m + 1) * 4);
  const cursor = ctx.temp(m * 4);
  const index = ctx.temp(n * 4);
  d.memset(counts, 0, (m + 1) * 4);
  d.memset(cursor, 0, m * 4);
  ctx.launch('plan', 'group_count', grid1d(n), [{ ptr: groups }, { ptr: counts }, { i32: n }, { i32: m }]);
  ctx.launch('plan', 'scan_tiles', { grid: [1, 1, 1], block: [1024, 1, 1], shared: 0 }, [
    { ptr: counts },
    { ptr: offsets },
    { i32: m },
    { i32: 1 },
    { i32: 0 },
  ]);
  ctx.launch('plan', 'group_scatter', grid1d(n), [
    { ptr: groups },
    { ptr: offsets },
    { ptr: cursor },
    { ptr: index },
    { i32: n },
    { i32: m },
  ]);
  d.sync(); // counts and cursor are read until here
  ctx.release(counts);
  ctx.release(cursor);
  return {
    qIndex: index,
    qOffsets: offsets,
    kvIndex: index,
    kvOffsets: offsets,
    segments: m,
    qPositions: n,
    kvPositions: n,
    tiles: new Map(),
    owned: [index, offsets],
  };
}

/** Per-segment offsets of tiles of `rows` query ('q') or key ('kv') rows, cached on the plan. */
export function tileOffsets(ctx: CudaContext, plan: DevicePlan, side: 'q' | 'kv', rows: number): DevPtr {
  const key = `${side}${rows}`;
  let t = plan.tiles.get(key);
  if (t === undefined) {
    t = ctx.temp((plan.segments + 1) * 4);
    ctx.launch('plan', 'scan_tiles', { grid: [1, 1, 1], block: [1024, 1, 1], shared: 0 }, [
      { ptr: side === 'q' ? plan.qOffsets : plan.kvOffsets },
      { ptr: t },
      { i32: plan.segments },
      { i32: rows },
      { i32: 1 },
    ]);
    plan.tiles.set(key, t);
    plan.owned.push(t);
  }
  return t;
}

/** Upper bound on the tiles of `rows` rows over all segments: sum ceil(len/rows) <= P/rows + S. */
export function tileBound(positions: number, segments: number, rows: number): number {
  return Math.max(1, Math.ceil(positions / rows) + segments);
}

export function freePlan(ctx: CudaContext, plan: DevicePlan): void {
  for (const p of new Set(plan.owned)) ctx.release(p);
  plan.owned.length = 0;
  plan.tiles.clear();
}

/** Downloads a device plan (for checks and tests). */
export function downloadPlan(ctx: CudaContext, plan: DevicePlan): AttentionPlan {
  const get = (p: DevPtr, n: number) => {
    const a = new Int32Array(n);
    ctx.driver.download(a, p);
    return a;
  };
  const qOffsets = get(plan.qOffsets, plan.segments + 1);
  const kvOffsets = get(plan.kvOffsets, plan.segments + 1);
  return {
    qIndex: get(plan.qIndex, qOffsets[plan.segments]),
    qOffsets,
    kvIndex: get(plan.kvIndex, kvOffsets[plan.segments]),
    kvOffsets,
  };
}
