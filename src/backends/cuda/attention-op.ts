/**
 * The groupedAttention / groupedAttentionBackward primitive ops on the CUDA backend (float32
 * tensors). By default they run the bf16 tensor-core kernels (inputs rounded to bf16, fp32
 * accumulation, fp32 results) when D is 64 or 128, like mixed-precision training elsewhere; the
 * backend option `attention: 'float32'` keeps the exact fp32 kernels. Plans live on the device while
 * the tensors that depend on them do (see `acquire`).
 */

import type { AttentionPlan } from '../../core/attention-plan.js';
import type { GroupedAttentionParams } from '../../core/op-spec.js';
import { sizeOf } from '../../core/shape.js';
import type { TensorRef } from '../backend.js';
import { attentionBackward, attentionForward } from './attention.js';
import type { DevPtr } from './driver-types.js';
import { type CudaContext, grid1d } from './kernels.js';
import { freeWith, ptrOf } from './op-types.js';
import { type DevicePlan, freePlan, uploadPlan } from './plan.js';

export interface CudaOpOptions {
  /** Arithmetic of the attention ops: 'bfloat16' (tensor cores, default) or 'float32' (exact). */
  readonly attention?: 'bfloat16' | 'float32';
  /**
   * conv3d (conv.ts): the most floats of one block's column matrix (and of its output block); the
   * block is at least one output row. Default 2^24 (64 MiB); tests shrink it to run many blocks.
   */
  readonly convColFloats?: number;
}

/**
 * A device plan and who holds it. A plan is uploaded (or built on the device, `holdDevicePlan`)
 * once and shared by the ops that run it while it is held: a forward holds it until its lse
 * output is freed (its backward reads that lse, so it finds the plan still there), a backward
 * while it runs, a routed plan also its keys tensor. The last release frees it. Device memory so
 * follows tensor lifetimes, deterministically and counted in liveBytes (ctx.temp), where a
 * FinalizationRegistry freed it whenever the collector ran.
 */
interface Held {
  readonly p: AttentionPlan;
  readonly nq: number;
  readonly nk: number;
  readonly plan: DevicePlan;
  /** Built on the device: no host arrays, so nothing else can run it. */
  readonly device: boolean;
  refs: number;
}
const tables = new WeakMap<CudaContext, Map<Int32Array, Held>>();

function tableOf(ctx: CudaContext): Map<Int32Array, Held> {
  let t = tables.get(ctx);
  if (!t) tables.set(ctx, (t = new Map()));
  return t;
}

/** One hold on `h`; the release that drops the last one frees the plan (once the device is done). */
function hold(ctx: CudaContext, h: Held): () => void {
  h.refs++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--h.refs > 0) return;
    const t = tableOf(ctx);
    if (t.get(h.p.qIndex) === h) t.delete(h.p.qIndex);
    ctx.driver.sync(); // kernels may still read it
    freePlan(ctx, h.plan);
  };
}

/** The plan of `p` on the device, held until the returned release. */
function acquire(
  ctx: CudaContext,
  p: AttentionPlan,
  nq: number,
  nk: number,
): { plan: DevicePlan; release: () => void } {
  const t = tableOf(ctx);
  let h = t.get(p.qIndex);
  const same =
    h &&
    h.nq === nq &&
    h.nk === nk &&
    h.p.qOffsets === p.qOffsets &&
    h.p.kvIndex === p.kvIndex &&
    h.p.kvOffsets === p.kvOffsets;
  if (h?.device && !same)
    throw new Error(
      `groupedAttention: a routed plan built for ${h.nq} rows was given ${nq} queries and ${nk} keys`,
    );
  if (!h || !same) {
    h = { p, nq, nk, plan: uploadPlan(ctx, p, nq, nk), device: false, refs: 0 };
    if (!t.has(p.qIndex)) t.set(p.qIndex, h); // else: the same qIndex in another plan, used uncached
  }
  return { plan: h.plan, release: hold(ctx, h) };
}

/**
 * Registers a plan built on the device for `n` rows (queries = keys): returns the handle that
 * stands for it in groupedAttention's params (empty host arrays, never validated or read) and
 * the creator's hold.
 */
export function holdDevicePlan(
  ctx: CudaContext,
  plan: DevicePlan,
  n: number,
): { handle: AttentionPlan; release: () => void } {
  const handle = {
    qIndex: new Int32Array(0),
    qOffsets: new Int32Array(0),
    kvIndex: new Int32Array(0),
    kvOffsets: new Int32Array(0),
  };
  const h: Held = { p: handle, nq: n, nk: n, plan, device: true, refs: 0 };
  tableOf(ctx).set(handle.qIndex, h);
  return { handle, release: hold(ctx, h) };
}

/** Plans on the device now (tests). */
export function heldPlans(ctx: CudaContext): number {
  return tableOf(ctx).size;
}

/** Declines a case (the backend then runs the reference), except for a plan only the device has. */
function decline(ctx: CudaContext, p: AttentionPlan): false {
  if (tableOf(ctx).get(p.qIndex)?.device)
    throw new Error('groupedAttention: a plan built on the device cannot run through the reference kernel');
  return false;
}

function toBf16(ctx: CudaContext, t: TensorRef): DevPtr {
  const n = sizeOf(t.shape);
  const out = ctx.temp(n * 2);
  if (n > 0)
    ctx.launch('elementwise', 'cast_f32_bf16', grid1d(Math.min(n, 65535 * 256)), [
      { ptr: ptrOf(t) },
      { ptr: out },
      { i64: n },
    ]);
  return out;
}

const useBf16 = (o: CudaOpOptions, d: number) => o.attention !== 'float32' && (d === 64 || d === 128);
const allF32 = (ts: readonly TensorRef[]) => ts.every((t) => t.dtype === 'float32');

export function groupedAttentionOp(
  ctx: CudaContext,
  [q, k, v]: readonly TensorRef[],
  [out, lse]: readonly TensorRef[],
  p: GroupedAttentionParams,
  o: CudaOpOptions,
): boolean {
  if (!allF32([q, k, v, out, lse])) return decline(ctx, p);
  const [nq, heads, dim] = q.shape;
  const nk = k.shape[0];
  const bf = useBf16(o, dim);
  if (!bf && dim > 256) return decline(ctx, p);
  const { plan, release } = acquire(ctx, p, nq, nk);
  freeWith(lse, release);
  const shape = { nq, nk, heads, dim, dtype: bf ? ('bfloat16' as const) : ('float32' as const) };
  if (!bf) {
    attentionForward(
      ctx,
      shape,
      { q: ptrOf(q), k: ptrOf(k), v: ptrOf(v), o: ptrOf(out), lse: ptrOf(lse) },
      plan,
      { scale: p.scale },
    );
    return true;
  }
  const t = {
    q: toBf16(ctx, q),
    k: toBf16(ctx, k),
    v: toBf16(ctx, v),
    o: ctx.temp(nq * heads * dim * 2),
    lse: ptrOf(lse),
  };
  attentionForward(ctx, shape, t, plan, { scale: p.scale });
  const n = nq * heads * dim;
  if (n > 0)
    ctx.launch('elementwise', 'cast_bf16_f32', grid1d(Math.min(n, 65535 * 256)), [
      { ptr: t.o },
      { ptr: ptrOf(out) },
      { i64: n },
    ]);
  ctx.driver.sync(); // the temporaries are read until here
  for (const b of [t.q, t.k, t.v, t.o]) ctx.release(b);
  return true;
}

export function groupedAttentionBackwardOp(
  ctx: CudaContext,
  [dOut, q, k, v, out, lse]: readonly TensorRef[],
  [dq, dk, dv]: readonly TensorRef[],
  p: GroupedAttentionParams,
  o: CudaOpOptions,
): boolean {
  if (!allF32([dOut, q, k, v, out, lse, dq, dk, dv])) return decline(ctx, p);
  const [nq, , dim] = q.shape;
  const nk = k.shape[0];
  const bf = useBf16(o, dim);
  if (!bf && dim > 256) return decline(ctx, p);
  const { plan, release } = acquire(ctx, p, nq, nk);
  try {
    backward(ctx, [dOut, q, k, v, out, lse], [dq, dk, dv], p, plan, bf);
  } finally {
    release();
  }
  return true;
}

function backward(
  ctx: CudaContext,
  [dOut, q, k, v, out, lse]: readonly TensorRef[],
  [dq, dk, dv]: readonly TensorRef[],
  p: GroupedAttentionParams,
  plan: DevicePlan,
  bf: boolean,
): void {
  const [nq, heads, dim] = q.shape;
  const nk = k.shape[0];
  const shape = { nq, nk, heads, dim, dtype: bf ? ('bfloat16' as const) : ('float32' as const) };
  const grads = { dq: ptrOf(dq), dk: ptrOf(dk), dv: ptrOf(dv), lse: ptrOf(lse) };
  if (!bf) {
    attentionBackward(
      ctx,
      shape,
      { q: ptrOf(q), k: ptrOf(k), v: ptrOf(v), o: ptrOf(out), dO: ptrOf(dOut), ...grads },
      plan,
      { scale: p.scale },
    );
    return;
  }
  const t = {
    q: toBf16(ctx, q),
    k: toBf16(ctx, k),
    v: toBf16(ctx, v),
    o: toBf16(ctx, out),
    dO: toBf16(ctx, dOut),
  };
  attentionBackward(ctx, shape, { ...t, ...grads }, plan, { scale: p.scale }); // synchronises before returning
  for (const b of Object.values(t)) ctx.release(b);
}
