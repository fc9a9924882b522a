/**
 * The groupedAttention / groupedAttentionBackward primitive ops on the CUDA backend (float32
 * tensors). By default they run the bf16 tensor-core kernels (inputs rounded to bf16, fp32
 * accumulation, fp32 results) when D is 64 or 128, like mixed-precision training elsewhere; the
 * backend option `attention: 'float32'` keeps the exact fp32 kernels. Plans are uploaded once per
 * plan object and freed when the host arrays are collected.
 */

import type { GroupedAttentionParams } from '../../core/op-spec.js';
import { sizeOf } from '../../core/shape.js';
import type { TensorRef } from '../backend.js';
import { attentionBackward, attentionForward } from './attention.js';
import type { DevPtr } from './driver-types.js';
import { type CudaContext, grid1d } from './kernels.js';
import { type DevicePlan, freePlan, uploadPlan } from './plan.js';

export interface CudaOpOptions {
  /** Arithmetic of the attention ops: 'bfloat16' (tensor cores, default) or 'float32' (exact). */
  readonly attention?: 'bfloat16' | 'float32';
}

const ptrOf = (t: TensorRef): DevPtr => (t.storage as unknown as { ptr: DevPtr }).ptr;

interface CachedPlan {
  readonly p: GroupedAttentionParams;
  readonly nq: number;
  readonly nk: number;
  readonly plan: DevicePlan;
}
const plans = new WeakMap<CudaContext, WeakMap<Int32Array, CachedPlan>>();
const finalizer = new FinalizationRegistry<{ ctx: CudaContext; plan: DevicePlan }>(({ ctx, plan }) =>
  freePlan(ctx, plan),
);

function devicePlan(ctx: CudaContext, p: GroupedAttentionParams, nq: number, nk: number): DevicePlan {
  let byCtx = plans.get(ctx);
  if (!byCtx) plans.set(ctx, (byCtx = new WeakMap()));
  const hit = byCtx.get(p.qIndex);
  const same = (c: CachedPlan) =>
    c.nq === nq &&
    c.nk === nk &&
    c.p.qOffsets === p.qOffsets &&
    c.p.kvIndex === p.kvIndex &&
    c.p.kvOffsets === p.kvOffsets;
  if (hit && same(hit)) return hit.plan;
  const plan = uploadPlan(ctx, p, nq, nk);
  byCtx.set(p.qIndex, { p, nq, nk, plan });
  finalizer.register(p.qIndex, { ctx, plan });
  return plan;
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
  if (!allF32([q, k, v, out, lse])) return false;
  const [nq, heads, dim] = q.shape;
  const nk = k.shape[0];
  const bf = useBf16(o, dim);
  if (!bf && dim > 256) return false;
  const plan = devicePlan(ctx, p, nq, nk);
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
  if (!allF32([dOut, q, k, v, out, lse, dq, dk, dv])) return false;
  const [nq, heads, dim] = q.shape;
  const nk = k.shape[0];
  const bf = useBf16(o, dim);
  if (!bf && dim > 256) return false;
  const plan = devicePlan(ctx, p, nq, nk);
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
    return true;
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
  return true;
}
