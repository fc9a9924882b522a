/** Batched matmul with transposes and broadcast batch dims; float64 accumulation. */
import { broadcastShapes, sizeOf, stridesOf } from '../../../core/shape.js';
import type { RefKernel } from '../view.js';

export const matmul: RefKernel<'matmul'> = ([a, b], [y], { transA, transB }) => {
  const ra = a.shape.length;
  const m = y.shape[y.shape.length - 2];
  const n = y.shape[y.shape.length - 1];
  const k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nb = sizeOf(batch);
  const aBatch = batchOffsets(a.shape.slice(0, -2), batch, m * k);
  const bBatch = batchOffsets(b.shape.slice(0, -2), batch, k * n);
  // Element (i, p) of op(A) and (p, j) of op(B) in stored layout.
  const [aRow, aCol] = transA ? [1, m] : [k, 1];
  const [bRow, bCol] = transB ? [1, k] : [n, 1];
  const acc = new Float64Array(n);
  const A = a.data;
  const B = b.data;
  for (let t = 0; t < nb; t++) {
    const ao = aBatch[t];
    const bo = bBatch[t];
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      for (let p = 0; p < k; p++) {
        const av = A[ao + i * aRow + p * aCol];
        if (av === 0) continue;
        const bp = bo + p * bRow;
        for (let j = 0; j < n; j++) acc[j] += av * B[bp + j * bCol];
      }
      y.data.set(acc, (t * m + i) * n);
    }
  }
};

/** Offset of each batch matrix of an operand whose batch shape broadcasts to `batch`. */
function batchOffsets(own: readonly number[], batch: number[], matSize: number): Int32Array {
  const nb = sizeOf(batch);
  const out = new Int32Array(nb);
  const s = stridesOf(own);
  const lead = batch.length - own.length;
  const bs = stridesOf(batch);
  for (let t = 0; t < nb; t++) {
    let off = 0;
    for (let i = 0; i < batch.length; i++) {
      const idx = Math.floor(t / bs[i]) % batch[i];
      if (i >= lead && own[i - lead] !== 1) off += idx * s[i - lead];
    }
    out[t] = off * matSize;
  }
  return out;
}
