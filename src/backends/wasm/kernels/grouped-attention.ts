/**
 * Grouped attention on the wasm backend (kernel: assembly/attention.ts). The plan's arrays are
 * copied into the heap once per call; work is cut into items (segment, head, query range) and
 * spread over the pool:
 * - forward: large (segment, head) pairs are cut into query ranges so every thread gets work even
 *   for one giant segment; items are dealt largest-first to the least-loaded thread, and each
 *   thread's items stay grouped by (segment, head) so keys/values are gathered once per pair;
 * - backward: one item per (segment, head), because dK/dV of a segment accumulate in the item's
 *   scratch before being added to the output. When key rows repeat across segments (STGA's
 *   adjacent-shot frames) two segments may add to the same rows, so items are then dealt by head
 *   (heads never share memory); otherwise any thread may take any item. With fewer pairs than
 *   threads (dense attention), each pair's queries are split across threads instead, each thread
 *   writing dK/dV partials that are summed afterwards.
 */

import { validatePlan } from '../../../core/attention-plan.js';
import type { GroupedAttentionParams } from '../../../core/op-spec.js';
import { sizeOf } from '../../../core/shape.js';
import type { TensorRef } from '../../backend.js';
import { type KernelExports, ptrOf, type WasmCtx, type WasmKernel } from '../context.js';

export interface AttentionExports {
  attentionWorkBytes(maxKv: number, d: number): number;
  attentionForward(...args: number[]): void;
  attentionBackward(...args: number[]): void;
}

/** Below this many q.k pairs (times heads) the call stays on the calling thread. */
const SPLIT_MIN_PAIRS = 1 << 14;
/** Query rows per tile in the kernel (ranges are cut at multiples of it). */
const BQ = 64;

type Item = [seg: number, h: number, qa: number, qb: number, cost: number];

/** Copies the plan's index arrays into heap blocks; returns their pointers and a release function. */
function upload(ctx: WasmCtx, p: GroupedAttentionParams) {
  const blocks: number[] = [];
  const put = (a: Int32Array) => {
    const ptr = ctx.heap.alloc(Math.max(4, a.byteLength), true);
    blocks.push(ptr);
    ctx.heap.i32().set(a, ptr / 4);
    return ptr;
  };
  const ptrs = { qIndex: put(p.qIndex), kvIndex: put(p.kvIndex), kvOffsets: put(p.kvOffsets) };
  return { ...ptrs, put, release: () => blocks.forEach((b) => ctx.heap.free(b)) };
}

/** Deals items to `threads` lists, largest first to the least-loaded list; each list sorted by (seg, h, qa). */
function deal(
  items: Item[],
  threads: number,
  key: (it: Item) => number | undefined = () => undefined,
): Item[][] {
  const lists: Item[][] = Array.from({ length: threads }, () => []);
  const load = new Float64Array(threads);
  for (const it of [...items].sort((a, b) => b[4] - a[4])) {
    let t = key(it);
    if (t === undefined) {
      t = 0;
      for (let i = 1; i < threads; i++) if (load[i] < load[t]) t = i;
    }
    lists[t].push(it);
    load[t] += it[4];
  }
  for (const l of lists) l.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  return lists.filter((l) => l.length > 0);
}

function itemsBlock(lists: Item[][], put: (a: Int32Array) => number): number[] {
  const flat = new Int32Array(4 * lists.reduce((n, l) => n + l.length, 0));
  let at = 0;
  const starts: number[] = [];
  for (const l of lists) {
    starts.push(at);
    for (const [s, h, qa, qb] of l) flat.set([s, h, qa, qb], 4 * at++);
  }
  const base = put(flat);
  return starts.map((s) => base + 16 * s);
}

function k(ctx: WasmCtx): KernelExports & AttentionExports {
  return ctx.k as KernelExports & AttentionExports;
}

/** Zeroes the output rows of queries that see no key (in no segment, or a segment without keys). */
function zeroUncovered(ctx: WasmCtx, p: GroupedAttentionParams, t: TensorRef, rowSize: number, nq: number) {
  const covered = new Uint8Array(nq);
  for (let s = 0; s + 1 < p.qOffsets.length; s++)
    if (p.kvOffsets[s + 1] > p.kvOffsets[s])
      for (let i = p.qOffsets[s]; i < p.qOffsets[s + 1]; i++) covered[p.qIndex[i]] = 1;
  const f = ctx.heap.f32();
  const base = ptrOf(t) / 4;
  for (let r = 0; r < nq; r++) if (!covered[r]) f.fill(0, base + r * rowSize, base + (r + 1) * rowSize);
}

export const groupedAttention: WasmKernel<'groupedAttention'> = (ctx, [q, kk, v], [out, lse], p) => {
  const [nq, H, D] = q.shape;
  const nk = kk.shape[0];
  if (q.dtype !== 'float32' || kk.dtype !== 'float32' || v.dtype !== 'float32') return false;
  if (sizeOf(q.shape) === 0) return true;
  const maxKv = validatePlan(p, nq, nk);
  ctx.heap.f32().fill(Number.NEGATIVE_INFINITY, ptrOf(lse) / 4, ptrOf(lse) / 4 + nq * H);
  zeroUncovered(ctx, p, out, H * D, nq);
  const items: Item[] = [];
  let total = 0;
  for (let s = 0; s + 1 < p.qOffsets.length; s++) {
    const c = (p.qOffsets[s + 1] - p.qOffsets[s]) * (p.kvOffsets[s + 1] - p.kvOffsets[s]);
    total += c * H;
  }
  const T = total < SPLIT_MIN_PAIRS ? 1 : ctx.pool.threads;
  const target = total / (4 * T);
  for (let s = 0; s + 1 < p.qOffsets.length; s++) {
    const [qa, qb] = [p.qOffsets[s], p.qOffsets[s + 1]];
    const nkv = p.kvOffsets[s + 1] - p.kvOffsets[s];
    if (qa === qb || nkv === 0) continue;
    const pieces = Math.max(1, Math.ceil(((qb - qa) * nkv) / Math.max(target, 1)));
    const chunk = Math.max(BQ, Math.ceil((qb - qa) / pieces / BQ) * BQ);
    for (let h = 0; h < H; h++)
      for (let a = qa; a < qb; a += chunk)
        items.push([s, h, a, Math.min(qb, a + chunk), Math.min(chunk, qb - a) * nkv]);
  }
  if (items.length === 0) return true;
  const up = upload(ctx, p);
  const works: number[] = [];
  try {
    const lists = deal(items, T);
    const starts = itemsBlock(lists, up.put);
    const bytes = k(ctx).attentionWorkBytes(maxKv, D);
    const [Q, K, V, O, L] = [q, kk, v, out, lse].map(ptrOf);
    const jobs = lists.map((l, t) => {
      works.push(ctx.heap.alloc(bytes, true));
      return [
        starts[t],
        l.length,
        up.qIndex,
        up.kvIndex,
        up.kvOffsets,
        H,
        D,
        p.scale,
        Q,
        K,
        V,
        O,
        L,
        works[t],
      ];
    });
    ctx.pool.run('attentionForward', jobs);
  } finally {
    for (const w of works) ctx.heap.free(w);
    up.release();
  }
  return true;
};

/** Most scratch the split backward may take for per-thread dK/dV partials. */
const PARTIAL_MAX_BYTES = 256 * 2 ** 20;

export const groupedAttentionBackward: WasmKernel<'groupedAttentionBackward'> = (
  ctx,
  [dOut, q, kk, v, out, lse],
  [dq, dk, dv],
  p,
) => {
  const [nq, H, D] = q.shape;
  const nk = kk.shape[0];
  if ([dOut, q, kk, v].some((t) => t.dtype !== 'float32')) return false;
  if (sizeOf(q.shape) === 0) return true;
  const maxKv = validatePlan(p, nq, nk);
  const f = ctx.heap.f32();
  zeroUncovered(ctx, p, dq, H * D, nq);
  f.fill(0, ptrOf(dk) / 4, ptrOf(dk) / 4 + nk * H * D);
  f.fill(0, ptrOf(dv) / 4, ptrOf(dv) / 4 + nk * H * D);
  const items: Item[] = [];
  let total = 0;
  for (let s = 0; s + 1 < p.qOffsets.length; s++) {
    const [qa, qb] = [p.qOffsets[s], p.qOffsets[s + 1]];
    const nkv = p.kvOffsets[s + 1] - p.kvOffsets[s];
    if (qa === qb || nkv === 0) continue;
    for (let h = 0; h < H; h++) items.push([s, h, qa, qb, (qb - qa) * nkv]);
    total += (qb - qa) * nkv * H;
  }
  if (items.length === 0) return true;
  const T = total < SPLIT_MIN_PAIRS ? 1 : ctx.pool.threads;
  const ptrs = [dOut, q, kk, v, out, lse, dq, dk, dv].map(ptrOf);
  const up = upload(ctx, p);
  const blocks: number[] = [];
  const scratch = (bytes: number) => {
    blocks.push(ctx.heap.alloc(bytes, true));
    return blocks[blocks.length - 1];
  };
  try {
    // Few (segment, head) pairs for many threads (dense attention): cut each pair's queries into G
    // ranges, one per thread, each writing its dK/dV to a private partial summed afterwards.
    const G = Math.min(
      Math.floor(T / items.length),
      Math.floor(PARTIAL_MAX_BYTES / (items.length * 8 * maxKv * D)),
    );
    if (G >= 2) {
      const parts: { it: Item; ptr: number }[] = [];
      for (const it of items) {
        const chunk = Math.ceil((it[3] - it[2]) / G / BQ) * BQ;
        for (let a = it[2]; a < it[3]; a += chunk)
          parts.push({ it: [it[0], it[1], a, Math.min(it[3], a + chunk), 0], ptr: 0 });
      }
      const starts = itemsBlock(
        parts.map((x) => [x.it]),
        up.put,
      );
      const bytes = k(ctx).attentionWorkBytes(maxKv, D);
      const jobs = parts.map((x, t) => {
        const nkv = p.kvOffsets[x.it[0] + 1] - p.kvOffsets[x.it[0]];
        x.ptr = scratch(8 * nkv * D);
        return [
          starts[t],
          1,
          up.qIndex,
          up.kvIndex,
          up.kvOffsets,
          H,
          D,
          p.scale,
          ...ptrs,
          scratch(bytes),
          x.ptr,
        ];
      });
      ctx.pool.run('attentionBackward', jobs);
      const fa = ctx.heap.f32();
      for (const { it, ptr } of parts) {
        const [k0, k1] = [p.kvOffsets[it[0]], p.kvOffsets[it[0] + 1]];
        const nkv = k1 - k0;
        for (let j = 0; j < nkv; j++) {
          const e = (p.kvIndex[k0 + j] * H + it[1]) * D;
          const src = ptr / 4 + j * D;
          for (let d = 0; d < D; d++) {
            fa[ptrs[7] / 4 + e + d] += fa[src + d];
            fa[ptrs[8] / 4 + e + d] += fa[src + nkv * D + d];
          }
        }
      }
      return true;
    }
    let disjoint = true;
    const seen = new Uint8Array(nk);
    for (const r of p.kvIndex) {
      if (seen[r]) {
        disjoint = false;
        break;
      }
      seen[r] = 1;
    }
    const lists = deal(items, T, disjoint ? undefined : (it) => it[1] % T);
    const starts = itemsBlock(lists, up.put);
    const bytes = k(ctx).attentionWorkBytes(maxKv, D);
    const jobs = lists.map((l, t) => [
      starts[t],
      l.length,
      up.qIndex,
      up.kvIndex,
      up.kvOffsets,
      H,
      D,
      p.scale,
      ...ptrs,
      scratch(bytes),
      0,
    ]);
    ctx.pool.run('attentionBackward', jobs);
  } finally {
    for (const b of blocks) ctx.heap.free(b);
    up.release();
  }
  return true;
};
