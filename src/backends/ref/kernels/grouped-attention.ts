/**
 * Grouped (plan-driven) attention, flash-style: for each segment and head, tiles of queries meet
 * tiles of keys with an online softmax, so memory stays O(N*H*D) (never Nq x Nk). The backward
 * pass recomputes the probabilities from the saved log-sum-exp (FlashAttention-2). Rows are
 * gathered through the plan's index arrays; float64 accumulation throughout. Generic over typed
 * arrays, so the gradient checks can run it in float64.
 * Layout: q [Nq,H,D], k/v [Nk,H,D]; element (row, h, d) sits at (row*H + h)*D + d.
 */
import type { RefKernel } from '../view.js';

const BQ = 16; // query rows per tile
const BK = 32; // key rows per tile

export const groupedAttention: RefKernel<'groupedAttention'> = ([q, k, v], [out, lse], p) => {
  const [, H, D] = q.shape;
  const { qIndex, qOffsets, kvIndex, kvOffsets, scale } = p;
  out.data.fill(0); // rows in no segment
  lse.data.fill(Number.NEGATIVE_INFINITY);
  const s = new Float64Array(BQ * BK);
  const m = new Float64Array(BQ);
  const l = new Float64Array(BQ);
  const acc = new Float64Array(BQ * D);
  for (let seg = 0; seg + 1 < qOffsets.length; seg++) {
    const [q0, q1, k0, k1] = [qOffsets[seg], qOffsets[seg + 1], kvOffsets[seg], kvOffsets[seg + 1]];
    if (k0 === k1) continue; // no keys: zero output, lse -Infinity
    for (let h = 0; h < H; h++)
      for (let i0 = q0; i0 < q1; i0 += BQ) {
        const nq = Math.min(BQ, q1 - i0);
        m.fill(Number.NEGATIVE_INFINITY);
        l.fill(0);
        acc.fill(0);
        for (let j0 = k0; j0 < k1; j0 += BK) {
          const nk = Math.min(BK, k1 - j0);
          for (let i = 0; i < nq; i++) {
            const qo = (qIndex[i0 + i] * H + h) * D;
            let mx = m[i];
            for (let j = 0; j < nk; j++) {
              const ko = (kvIndex[j0 + j] * H + h) * D;
              let dot = 0;
              for (let d = 0; d < D; d++) dot += q.data[qo + d] * k.data[ko + d];
              s[i * BK + j] = dot * scale;
              if (s[i * BK + j] > mx) mx = s[i * BK + j];
            }
            // Online softmax: rescale what was accumulated under the old maximum.
            const corr = Math.exp(m[i] - mx);
            m[i] = mx;
            l[i] *= corr;
            for (let d = 0; d < D; d++) acc[i * D + d] *= corr;
            for (let j = 0; j < nk; j++) {
              const e = Math.exp(s[i * BK + j] - mx);
              l[i] += e;
              const vo = (kvIndex[j0 + j] * H + h) * D;
              for (let d = 0; d < D; d++) acc[i * D + d] += e * v.data[vo + d];
            }
          }
        }
        for (let i = 0; i < nq; i++) {
          const r = qIndex[i0 + i];
          const oo = (r * H + h) * D;
          for (let d = 0; d < D; d++) out.data[oo + d] = acc[i * D + d] / l[i];
          lse.data[r * H + h] = m[i] + Math.log(l[i]);
        }
      }
  }
};

export const groupedAttentionBackward: RefKernel<'groupedAttentionBackward'> = (
  [dOut, q, k, v, out, lse],
  [dq, dk, dv],
  p,
) => {
  const [, H, D] = q.shape;
  const { qIndex, qOffsets, kvIndex, kvOffsets, scale } = p;
  const gk = new Float64Array(dk.data.length); // key/value rows may repeat: accumulate in float64
  const gv = new Float64Array(dv.data.length);
  const gq = new Float64Array(BQ * D);
  const delta = new Float64Array(BQ);
  dq.data.fill(0);
  for (let seg = 0; seg + 1 < qOffsets.length; seg++) {
    const [q0, q1, k0, k1] = [qOffsets[seg], qOffsets[seg + 1], kvOffsets[seg], kvOffsets[seg + 1]];
    if (k0 === k1) continue;
    for (let h = 0; h < H; h++)
      for (let i0 = q0; i0 < q1; i0 += BQ) {
        const nq = Math.min(BQ, q1 - i0);
        gq.fill(0);
        // delta_i = dO_i . O_i (= sum_j P_ij dP_ij), the softmax-backward row term.
        for (let i = 0; i < nq; i++) {
          const o = (qIndex[i0 + i] * H + h) * D;
          let t = 0;
          for (let d = 0; d < D; d++) t += dOut.data[o + d] * out.data[o + d];
          delta[i] = t;
        }
        for (let j0 = k0; j0 < k1; j0 += BK) {
          const nk = Math.min(BK, k1 - j0);
          for (let i = 0; i < nq; i++) {
            const r = qIndex[i0 + i];
            const qo = (r * H + h) * D;
            const L = lse.data[r * H + h];
            for (let j = 0; j < nk; j++) {
              const ko = (kvIndex[j0 + j] * H + h) * D;
              let dot = 0;
              let dp = 0;
              for (let d = 0; d < D; d++) {
                dot += q.data[qo + d] * k.data[ko + d];
                dp += dOut.data[qo + d] * v.data[ko + d];
              }
              const pij = Math.exp(dot * scale - L);
              const ds = pij * (dp - delta[i]) * scale;
              for (let d = 0; d < D; d++) {
                gv[ko + d] += pij * dOut.data[qo + d];
                gk[ko + d] += ds * q.data[qo + d];
                gq[i * D + d] += ds * k.data[ko + d];
              }
            }
          }
        }
        for (let i = 0; i < nq; i++) {
          const o = (qIndex[i0 + i] * H + h) * D;
          for (let d = 0; d < D; d++) dq.data[o + d] = gq[i * D + d];
        }
      }
  }
  dk.data.set(gk);
  dv.data.set(gv);
};
