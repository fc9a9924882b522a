/**
 * conv3d and its two backward kernels as im2col (assembly/conv.ts) + the packed SIMD GEMM, on
 * blocks of output rows so the column buffer stays small (about 4 M floats):
 *   forward   y[b][Co, P]   = w[Co, K] . col[K, P]
 *   dweight   dw[Co, K]    += dy[b][Co, P] . col[K, P]^T
 *   dinput    dcol[K, P]    = w^T[K, Co] . dy[b][Co, P], then col2im adds dcol into dx
 * with K = Ci KT KH KW and P the block's output positions. The GEMM is split across the pool by
 * column panels when large.
 */
import { type ConvGeom, convGeom } from '../../ref/kernels/conv.js';
import { ptrOf, type WasmCtx, type WasmKernel } from '../context.js';
import { ranges, SPLIT_MIN_MACS } from './matmul.js';

const COL_FLOATS = 1 << 22;

function rowsPerBlock(g: ConvGeom, K: number): number {
  return Math.max(1, Math.min(g.To * g.Ho, Math.floor(COL_FLOATS / (K * g.Wo))));
}

const geomArgs = (g: ConvGeom, r0: number, r1: number) => [
  g.Ci,
  g.T,
  g.H,
  g.W,
  g.KT,
  g.KH,
  g.KW,
  g.Ho,
  g.Wo,
  g.st,
  g.sh,
  g.sw,
  g.pt,
  g.ph,
  g.pw,
  r0,
  r1,
];

/** C[m, n] = op(A) op(B) with element strides; split over threads by columns of C when large. */
function gemm(
  ctx: WasmCtx,
  table: number,
  m: number,
  n: number,
  k: number,
  a: number,
  ars: number,
  acs: number,
  b: number,
  brs: number,
  bcs: number,
  c: number,
  ldc: number,
): void {
  const T = ctx.pool.threads;
  if (T === 1 || m * n * k < SPLIT_MIN_MACS || n < 16 * T) {
    ctx.k.gemmBatched(1, table, m, n, k, a, ars, acs, b, brs, bcs, c, ldc, ctx.gemmWork[0]);
    return;
  }
  const jobs = ranges(n, T, 8).map(([s, e], t) => [
    1,
    table,
    m,
    e - s,
    k,
    a,
    ars,
    acs,
    b + 4 * s * bcs,
    brs,
    bcs,
    c + 4 * s,
    ldc,
    ctx.gemmWork[t],
  ]);
  ctx.pool.run('gemmBatched', jobs);
}

/** Runs `body` with a zeroed 12-byte offsets table (one matrix, no batch offsets) and a col buffer. */
function withScratch(
  ctx: WasmCtx,
  colFloats: number,
  extraFloats: number,
  body: (table: number, col: number, extra: number) => void,
): void {
  const table = ctx.heap.alloc(12, true);
  const col = ctx.heap.alloc(colFloats * 4, true);
  const extra = extraFloats > 0 ? ctx.heap.alloc(extraFloats * 4, true) : 0;
  try {
    body(table, col, extra);
  } finally {
    ctx.heap.free(table);
    ctx.heap.free(col);
    if (extra) ctx.heap.free(extra);
  }
}

export const conv3d: WasmKernel<'conv3d'> = (ctx, [x, w], [y], { stride, padding }) => {
  if (x.dtype !== 'float32' || w.dtype !== 'float32') return false;
  const g = convGeom(x.shape, w.shape, stride, padding);
  const K = g.Ci * g.KT * g.KH * g.KW;
  const P = g.To * g.Ho * g.Wo;
  const R = g.To * g.Ho;
  const rb = rowsPerBlock(g, K);
  if (P === 0 || g.Co === 0) return true;
  withScratch(ctx, K * rb * g.Wo, 0, (table, col) => {
    for (let b = 0; b < g.B; b++) {
      const xb = ptrOf(x) + 4 * b * g.Ci * g.T * g.H * g.W;
      const yb = ptrOf(y) + 4 * b * g.Co * P;
      for (let r0 = 0; r0 < R; r0 += rb) {
        const r1 = Math.min(R, r0 + rb);
        const np = (r1 - r0) * g.Wo;
        ctx.k.convIm2col(xb, col, ...geomArgs(g, r0, r1));
        gemm(ctx, table, g.Co, np, K, ptrOf(w), K, 1, col, np, 1, yb + 4 * r0 * g.Wo, P);
      }
    }
  });
  return true;
};

export const conv3dBackwardWeight: WasmKernel<'conv3dBackwardWeight'> = (
  ctx,
  [dy, x],
  [dw],
  { stride, padding },
) => {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') return false;
  const g = convGeom(x.shape, dw.shape, stride, padding);
  const K = g.Ci * g.KT * g.KH * g.KW;
  const P = g.To * g.Ho * g.Wo;
  const R = g.To * g.Ho;
  const rb = rowsPerBlock(g, K);
  const f32 = ctx.heap.f32();
  f32.fill(0, ptrOf(dw) / 4, ptrOf(dw) / 4 + g.Co * K);
  if (P === 0) return true;
  withScratch(ctx, K * rb * g.Wo, g.Co * K, (table, col, part) => {
    for (let b = 0; b < g.B; b++) {
      const xb = ptrOf(x) + 4 * b * g.Ci * g.T * g.H * g.W;
      const yb = ptrOf(dy) + 4 * b * g.Co * P;
      for (let r0 = 0; r0 < R; r0 += rb) {
        const r1 = Math.min(R, r0 + rb);
        const np = (r1 - r0) * g.Wo;
        ctx.k.convIm2col(xb, col, ...geomArgs(g, r0, r1));
        // part[Co, K] = dy_block[Co, np] . col[K, np]^T
        gemm(ctx, table, g.Co, K, np, yb + 4 * r0 * g.Wo, P, 1, col, 1, np, part, K);
        ctx.k.addInto(ptrOf(dw), part, g.Co * K);
      }
    }
  });
  return true;
};

export const conv3dBackwardInput: WasmKernel<'conv3dBackwardInput'> = (
  ctx,
  [dy, w],
  [dx],
  { stride, padding },
) => {
  if (w.dtype !== 'float32' || dy.dtype !== 'float32') return false;
  const g = convGeom(dx.shape, w.shape, stride, padding);
  const K = g.Ci * g.KT * g.KH * g.KW;
  const P = g.To * g.Ho * g.Wo;
  const R = g.To * g.Ho;
  const rb = rowsPerBlock(g, K);
  const xsize = g.B * g.Ci * g.T * g.H * g.W;
  ctx.heap.f32().fill(0, ptrOf(dx) / 4, ptrOf(dx) / 4 + xsize);
  if (P === 0) return true;
  withScratch(ctx, K * rb * g.Wo, 0, (table, col) => {
    for (let b = 0; b < g.B; b++) {
      const xb = ptrOf(dx) + 4 * b * g.Ci * g.T * g.H * g.W;
      const yb = ptrOf(dy) + 4 * b * g.Co * P;
      for (let r0 = 0; r0 < R; r0 += rb) {
        const r1 = Math.min(R, r0 + rb);
        const np = (r1 - r0) * g.Wo;
        // dcol[K, np] = w^T . dy_block: element (k, co) of w^T is at co * K + k.
        gemm(ctx, table, K, np, g.Co, ptrOf(w), 1, K, yb + 4 * r0 * g.Wo, P, 1, col, np);
        ctx.k.convCol2im(col, xb, ...geomArgs(g, r0, r1));
      }
    }
  });
  return true;
};
