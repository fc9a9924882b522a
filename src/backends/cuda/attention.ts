/**
 * Grouped attention on the device. q [Nq,H,D], k/v [Nk,H,D] token-major, bf16 or fp32; o like q;
 * lse [Nq,H] fp32 (saved for backward). Scale 1/sqrt(D) unless given. bf16 with D in {64,128} runs the
 * tensor-core kernels; fp32 (D <= 256) runs the exact CUDA-core kernels. A row in no segment gets
 * zero output and lse = -inf; a query row must appear in at most one segment (key rows may repeat).
 */
import type { DevPtr, LaunchConfig } from './driver-types.js';
import type { CudaContext } from './kernels.js';
import { type DevicePlan, tileBound, tileOffsets } from './plan.js';

export type AttnDType = 'bfloat16' | 'float32';

export interface AttnShape {
  readonly nq: number;
  readonly nk: number;
  readonly heads: number;
  readonly dim: number;
  readonly dtype: AttnDType;
}

export interface AttnOptions {
  /** Warps per block of the bf16 forward kernel (4 or 8): 16 query rows per warp. */
  readonly warps?: 4 | 8;
  /** Softmax scale; 1/sqrt(D) by default. */
  readonly scale?: number;
}

const NEG_INF_BITS = 0xff800000;

const TC_DIMS = new Set([64, 128]);
const KV_TILE = 64; // keys per tile in the bf16 forward kernel
const BWD_TILE = 32; // keys (dq kernel) / queries (dk-dv kernel) per tile in the bf16 backward

function checkShape(s: AttnShape): void {
  const { nq, nk, heads, dim, dtype } = s;
  for (const [n, v] of Object.entries({ nq, nk, heads, dim }))
    if (!Number.isInteger(v) || v < 0) throw new Error(`groupedAttention: ${n} = ${v} is not a valid size`);
  if (heads < 1 || heads > 65535) throw new Error(`groupedAttention: ${heads} heads is outside [1, 65535]`);
  if (dtype === 'bfloat16' && !TC_DIMS.has(dim))
    throw new Error(`groupedAttention: bfloat16 needs head dim 64 or 128 (got ${dim}); use float32`);
  if (dtype === 'float32' && (dim < 1 || dim > 256))
    throw new Error(`groupedAttention: float32 needs head dim in [1, 256] (got ${dim})`);
}

/** Launch geometry of the bf16 forward kernel: one block per (query tile, head). */
export function forwardLaunch(
  s: AttnShape,
  plan: Pick<DevicePlan, 'qPositions' | 'segments'>,
  warps: 4 | 8,
): LaunchConfig {
  const rows = 16 * warps;
  return {
    grid: [tileBound(plan.qPositions, plan.segments, rows), s.heads, 1],
    block: [32 * warps, 1, 1],
    shared: (rows + 2 * KV_TILE) * s.dim * 2,
  };
}

/** Geometry of the fp32 kernels: one warp per (plan position, head), 8 warps per block. */
export function warpPerRowLaunch(positions: number, heads: number): LaunchConfig {
  return { grid: [Math.max(1, Math.ceil(positions / 8)), heads, 1], block: [256, 1, 1], shared: 0 };
}

const planArgs = (p: DevicePlan) => [
  { ptr: p.qIndex },
  { ptr: p.qOffsets },
  { ptr: p.kvIndex },
  { ptr: p.kvOffsets },
];

/** o = softmax(q k^T * scale) v per segment; writes o and lse fully (unplanned rows: o = 0, lse = -inf). */
export function attentionForward(
  ctx: CudaContext,
  s: AttnShape,
  t: { q: DevPtr; k: DevPtr; v: DevPtr; o: DevPtr; lse: DevPtr },
  plan: DevicePlan,
  opts: AttnOptions = {},
): void {
  checkShape(s);
  const d = ctx.driver;
  const elt = s.dtype === 'bfloat16' ? 2 : 4;
  d.memset(t.o, 0, s.nq * s.heads * s.dim * elt);
  d.memset32(t.lse, NEG_INF_BITS, s.nq * s.heads);
  if (plan.segments === 0) return;
  const scale = opts.scale ?? 1 / Math.sqrt(s.dim);
  const io = [{ ptr: t.q }, { ptr: t.k }, { ptr: t.v }, { ptr: t.o }, { ptr: t.lse }];
  if (s.dtype === 'bfloat16') {
    const warps = opts.warps ?? 4;
    const tiles = tileOffsets(ctx, plan, 'q', 16 * warps);
    ctx.launch('attention_fwd', `attn_fwd_bf16_w${warps}_d${s.dim}`, forwardLaunch(s, plan, warps), [
      ...io,
      ...planArgs(plan),
      { ptr: tiles },
      { i32: plan.segments },
      { i32: s.heads },
      { f32: scale * Math.LOG2E },
    ]);
  } else {
    ctx.launch('attention_f32', 'attn_fwd_f32', warpPerRowLaunch(plan.qPositions, s.heads), [
      ...io,
      ...planArgs(plan),
      { i32: plan.segments },
      { i32: s.heads },
      { i32: s.dim },
      { f32: scale },
    ]);
  }
}

/**
 * Gradients of attentionForward: dq [Nq,H,D], dk/dv [Nk,H,D] in fp32 (written fully: zero for rows
 * no segment uses), from q, k, v, the forward's o and lse, and dO (all in s.dtype except lse).
 */
export function attentionBackward(
  ctx: CudaContext,
  s: AttnShape,
  t: {
    q: DevPtr;
    k: DevPtr;
    v: DevPtr;
    o: DevPtr;
    lse: DevPtr;
    dO: DevPtr;
    dq: DevPtr;
    dk: DevPtr;
    dv: DevPtr;
  },
  plan: DevicePlan,
  opts: Pick<AttnOptions, 'scale'> = {},
): void {
  checkShape(s);
  const d = ctx.driver;
  const { nq, nk, heads, dim } = s;
  d.memset(t.dq, 0, nq * heads * dim * 4);
  d.memset(t.dk, 0, nk * heads * dim * 4);
  d.memset(t.dv, 0, nk * heads * dim * 4);
  if (plan.segments === 0 || nq === 0) return;
  const scale = opts.scale ?? 1 / Math.sqrt(dim);
  const delta = ctx.temp(nq * heads * 4);
  const bf = s.dtype === 'bfloat16';
  ctx.launch(
    bf ? 'attention_bwd' : 'attention_f32',
    bf ? 'attn_bwd_delta_bf16' : 'attn_bwd_delta_f32',
    warpPerRowLaunch(nq * heads, 1),
    [{ ptr: t.dO }, { ptr: t.o }, { ptr: delta }, { i64: nq * heads }, { i32: dim }],
  );
  const ins = [{ ptr: t.q }, { ptr: t.k }, { ptr: t.v }, { ptr: t.dO }, { ptr: t.lse }, { ptr: delta }];
  if (bf) {
    const rows = 64;
    ctx.launch(
      'attention_bwd',
      `attn_bwd_dq_bf16_w4_d${dim}`,
      {
        grid: [tileBound(plan.qPositions, plan.segments, rows), heads, 1],
        block: [128, 1, 1],
        shared: (2 * rows + 4 * BWD_TILE) * dim * 2,
      },
      [
        ...ins,
        { ptr: t.dq },
        ...planArgs(plan),
        { ptr: tileOffsets(ctx, plan, 'q', rows) },
        { i32: plan.segments },
        { i32: heads },
        { f32: scale },
      ],
    );
    ctx.launch(
      'attention_bwd',
      `attn_bwd_dkdv_bf16_w4_d${dim}`,
      {
        grid: [tileBound(plan.kvPositions, plan.segments, rows), heads, 1],
        block: [128, 1, 1],
        shared: 2 * rows * dim * 2 + 2 * (2 * BWD_TILE * dim * 2 + 2 * BWD_TILE * 4),
      },
      [
        ...ins,
        { ptr: t.dk },
        { ptr: t.dv },
        ...planArgs(plan),
        { ptr: tileOffsets(ctx, plan, 'kv', rows) },
        { i32: plan.segments },
        { i32: heads },
        { f32: scale },
      ],
    );
  } else {
    const tail = [{ i32: plan.segments }, { i32: heads }, { i32: dim }, { f32: scale }];
    ctx.launch('attention_f32', 'attn_bwd_dq_f32', warpPerRowLaunch(plan.qPositions, heads), [
      ...ins,
      { ptr: t.dq },
      ...planArgs(plan),
      ...tail,
    ]);
    ctx.launch('attention_f32', 'attn_bwd_dkdv_f32', warpPerRowLaunch(plan.kvPositions, heads), [
      ...ins,
      { ptr: t.dk },
      { ptr: t.dv },
      ...planArgs(plan),
      ...tail,
    ]);
  }
  d.sync(); // the kernels above read delta until they finish
  ctx.release(delta);
}
