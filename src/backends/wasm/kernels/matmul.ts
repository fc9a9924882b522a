/**
 * Batched GEMM with transposes and broadcast batch dims. Transposes become element strides of the
 * stored operands (the kernel packs from any strides). Large products are split across the pool
 * into chunks (whole matrices, or row panels of C in multiples of the 6-row register tile) that
 * threads take from a shared counter; C that is wide and short is split by column panels instead.
 */
import { gemmArgs } from '../../kernel-args.js';
import { ptrOf, type WasmCtx, type WasmKernel } from '../context.js';
import { runChunked } from './shared.js';

/** Below this many multiply-adds a product runs on the calling thread (a worker wake-up is ~20-50 us). */
export const SPLIT_MIN_MACS = 1 << 20;

/** Splits [0, total) into at most `parts` ranges, each a multiple of `unit` except the last. */
export function ranges(total: number, parts: number, unit: number): [number, number][] {
  const chunk = Math.ceil(Math.ceil(total / parts) / unit) * unit;
  const out: [number, number][] = [];
  for (let s = 0; s < total; s += chunk) out.push([s, Math.min(total, s + chunk)]);
  return out;
}

export const matmul: WasmKernel<'matmul'> = (ctx, [a, b], [y], { transA, transB }) => {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return false;
  const g = gemmArgs(a.shape, b.shape, y.shape, transA, transB);
  if (!g) return true;
  const table = ctx.heap.alloc(g.nb * 12, true);
  try {
    ctx.heap.i32().set(g.offsets, table / 4);
    runGemm(ctx, g.nb, table, g.m, g.n, g.k, ptrOf(a), g.ars, g.acs, ptrOf(b), g.brs, g.bcs, ptrOf(y));
  } finally {
    ctx.heap.free(table);
  }
  return true;
};

function runGemm(
  ctx: WasmCtx,
  nb: number,
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
): void {
  const T = ctx.pool.threads;
  const w = ctx.gemmWork;
  if (T === 1 || nb * m * n * k < SPLIT_MIN_MACS) {
    ctx.k.gemmBatched(nb, table, m, n, k, a, ars, acs, b, brs, bcs, c, n, w[0]);
    return;
  }
  if (nb >= T || m >= n || m >= 4 * T * 8) {
    // One product split by rows: B is packed once here and shared, so chunks can be small (about 4
    // per thread, for balance). Many products: whole matrices, or about 2 row chunks per thread
    // of at least 96 rows (each chunk then packs its own B: at 1024^3, 4 chunks cost ~10% more CPU).
    const shareB = nb === 1;
    const want = shareB ? 4 * T : 2 * T;
    const minRows = shareB ? 48 : 96;
    const perMatrix = nb >= want ? 1 : Math.max(1, Math.min(Math.ceil(m / minRows), Math.ceil(want / nb)));
    const chunkRows = Math.ceil(m / perMatrix / 6) * 6;
    const per = Math.ceil(m / chunkRows);
    const bp = shareB && per > 1 ? ctx.heap.alloc(4 * k * Math.ceil(n / 8) * 8, true) : 0;
    try {
      if (bp) ctx.k.packBFull(bp, b, brs, bcs, k, n);
      runChunked(
        ctx,
        'gemmChunks',
        nb * per,
        [chunkRows, per, table, m, n, k, a, ars, acs, b, brs, bcs, c, n, bp],
        (t) => [w[t]],
      );
    } finally {
      // Safe to free: every claimed chunk has finished, and late workers stop at the generation check.
      if (bp) ctx.heap.free(bp);
    }
    return;
  }
  // Wide and short C: static column panels (a multiple of the 8-column tile each).
  const jobs = ranges(n, T, 8).map(([s, e], t) => [
    nb,
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
    n,
    w[t],
  ]);
  ctx.pool.run('gemmBatched', jobs);
}
