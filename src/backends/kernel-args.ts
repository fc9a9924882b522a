/**
 * Argument glue shared by the wasm and native kernel tables: both hand the same flat arguments
 * (GEMM offset tables and strides, reduce splits, broadcast modes) to kernels of the same design,
 * and check row indices the same way before code that trusts them (plans: core/attention-plan.ts). `ref` keeps its own
 * geometry on purpose: it is the oracle these are tested against.
 */
import { broadcastShapes, type Shape, sameShape, sizeOf, stridesOf } from '../core/shape.js';

/** A batched GEMM: C[t] (m x n) = op(A) op(B), element strides of the stored operands. */
export interface GemmArgs {
  m: number;
  n: number;
  k: number;
  /** Batch matrices. */
  nb: number;
  /** Element (i, p) of op(A) at i * ars + p * acs; (p, j) of op(B) at p * brs + j * bcs. */
  ars: number;
  acs: number;
  brs: number;
  bcs: number;
  /** Per batch matrix t: element offsets of A, B and C at 3t, 3t + 1, 3t + 2. */
  offsets: Int32Array;
}

/** Element offset of each batch matrix of an operand whose batch shape broadcasts to `batch`. */
function batchOffsets(
  own: readonly number[],
  batch: readonly number[],
  matSize: number,
  out: Int32Array,
  at: number,
): void {
  const nb = sizeOf(batch);
  const s = stridesOf(own);
  const lead = batch.length - own.length;
  const bs = stridesOf(batch);
  for (let t = 0; t < nb; t++) {
    let off = 0;
    for (let i = lead; i < batch.length; i++)
      if (own[i - lead] !== 1) off += (Math.floor(t / bs[i]) % batch[i]) * s[i - lead];
    out[3 * t + at] = off * matSize;
  }
}

/** matmul's shapes (transposes, broadcast batch dims) as GEMM arguments; null when C is empty. */
export function gemmArgs(a: Shape, b: Shape, y: Shape, transA: boolean, transB: boolean): GemmArgs | null {
  const m = y[y.length - 2];
  const n = y[y.length - 1];
  const k = transA ? a[a.length - 2] : a[a.length - 1];
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  const nb = sizeOf(batch);
  if (nb === 0 || m === 0 || n === 0) return null;
  const [ars, acs] = transA ? [1, m] : [k, 1];
  const [brs, bcs] = transB ? [1, k] : [n, 1];
  const offsets = new Int32Array(3 * nb);
  batchOffsets(a.slice(0, -2), batch, m * k, offsets, 0);
  batchOffsets(b.slice(0, -2), batch, k * n, offsets, 1);
  for (let t = 0; t < nb; t++) offsets[3 * t + 2] = t * m * n;
  return { m, n, k, nb, ars, acs, brs, bcs, offsets };
}

/** gatherRows / scatterAddRows: every index in [0, rows) (a clear error, never a wild read). */
export function checkRowIndices(idx: ArrayLike<number>, rows: number, op: string): void {
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r];
    if (!(i >= 0 && i < rows))
      throw new Error(`${op}: index ${i} at position ${r} is out of range [0, ${rows})`);
  }
}

/** sum / max: [outer, mid, inner] when the reduced axes of size > 1 are adjacent, else null. */
export function reduceSplit(
  shape: readonly number[],
  axes: readonly number[],
): [number, number, number] | null {
  const dims = shape.map((d, i) => ({ d, r: axes.includes(i) })).filter((x) => x.d !== 1);
  const first = dims.findIndex((x) => x.r);
  if (first < 0) return [sizeOf(shape), 1, 1];
  let last = first;
  while (last + 1 < dims.length && dims[last + 1].r) last++;
  if (dims.slice(last + 1).some((x) => x.r)) return null;
  const prod = (xs: typeof dims) => xs.reduce((a, x) => a * x.d, 1);
  return [prod(dims.slice(0, first)), prod(dims.slice(first, last + 1)), prod(dims.slice(last + 1))];
}

/** Where `s` (left-padded to `out`'s rank) is broadcast: 'full', 'suffix' (keeps a trailing run), 'prefix' (keeps a leading run) or null. */
function pattern(s: Shape, out: Shape): { kind: 'full' | 'suffix' | 'prefix'; size: number } | null {
  const p = [...new Array<number>(out.length - s.length).fill(1), ...s];
  if (sameShape(p, out)) return { kind: 'full', size: sizeOf(out) };
  const size = sizeOf(p);
  if (size === 1) return { kind: 'prefix', size }; // a scalar: one value held for the whole output
  // suffix: ones, then equal to out
  let i = 0;
  while (i < p.length && p[i] === 1 && out[i] !== 1) i++;
  if (p.slice(i).every((d, j) => d === out[i + j])) return { kind: 'suffix', size };
  // prefix: equal to out, then ones
  let e = p.length;
  while (e > 0 && p[e - 1] === 1) e--;
  if (p.slice(0, e).every((d, j) => d === out[j])) return { kind: 'prefix', size };
  return null;
}

/**
 * The binary kernels' broadcast mode for a op b -> y of n > 0 elements, or null when neither
 * operand is full-size with the other a prefix/suffix broadcast (or scalar). Modes (the kernels'
 * `binary`): 0 same shape; 1 b[i % inner]; 2 a[i % inner]; 3 b[i / inner]; 4 a[i / inner].
 */
export function binaryMode(a: Shape, b: Shape, y: Shape): { mode: number; inner: number } | null {
  const n = sizeOf(y);
  const pa = pattern(a, y);
  const pb = pattern(b, y);
  if (!pa || !pb) return null;
  if (pa.kind === 'full' && pb.kind === 'full') return { mode: 0, inner: n };
  if (pa.kind === 'full')
    return pb.kind === 'suffix' ? { mode: 1, inner: pb.size } : { mode: 3, inner: n / pb.size };
  if (pb.kind === 'full')
    return pa.kind === 'suffix' ? { mode: 2, inner: pa.size } : { mode: 4, inner: n / pa.size };
  return null;
}
