// Grouped (plan-driven) attention, forward and backward, flash-style with SIMD.
//
// Layout: q [Nq,H,D], k/v [Nk,H,D] float32, element (row, h, d) at (row*H + h)*D + d. A plan is
// qIndex / kvIndex / kvOffsets (int32); work comes as items of four int32 (seg, h, qa, qb): query
// positions qIndex[qa..qb) of segment `seg`, head `h`. Threads get disjoint item lists.
//
// Per item the segment's keys and values for head h are gathered once into scratch (K as 8-key
// panels [panel][d][8] for Q.K^T, V as rows), then tiles of BQ queries run against tiles of BK
// keys: S = (scale*Q).K^T by a 4x8 register tile, online softmax (running max m, sum l), O += P.V
// by a 4x8 register tile that also applies the rescale. Padding: D rounds up to DP (multiple of 8)
// with zeros, keys to a multiple of 8 with zero rows (their scores are masked to -inf).
// Backward (FlashAttention-2): per item, for each query tile and key tile, recompute
// P = exp(S - lse), dP = dO.V^T, dS = P*(dP - delta), delta = rowsum(dO*O);
// dV += P^T.dO, dK += dS^T.(scale*Q), dQ += dS.K (times scale at the end).
// P and dS are also written in a "PT" layout [row / 4][key][row % 4] for the P.V and dS.K tiles.
// Choices measured on one thread of an Intel Xeon (bench numbers in bench/results/): 4x8 register
// tiles (8 accumulators) beat 6x8 (12 accumulators; x64 has 16 xmm registers) by about 20%;
// 64x64 query x key tiles were at least as fast as 32x64, 48x64, 48x128 and 96x64; unrolling the
// Q.K^T loop by two was slower (-5%); the PT layout +2% (within noise, kept: fewer address adds).
import { fma, hmax, hsum, vexp } from './simd';

const BQ: i32 = 64; // query rows per tile (multiple of 4)
const BK: i32 = 64; // keys per tile (multiple of 8)

// @ts-ignore: decorator
@inline
function pad8(n: i32): i32 {
  return (n + 7) & ~7;
}

// @ts-ignore: decorator
@inline
function f32At(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** Scratch bytes one thread needs for items whose segments have at most `maxKv` keys. */
export function attentionWorkBytes(maxKv: i32, d: i32): i32 {
  const dp = pad8(d);
  const nkp = pad8(maxKv);
  // backward is the larger: Kp, Kr, Vp, dK, dV + Qp, Qr, dOp, dOr, dQ + S, dS + lse, delta
  return (5 * nkp * dp + 5 * BQ * dp + 3 * BQ * BK + 2 * BQ) * 4 + 64;
}

// Gathers rows kvIndex[k0..k1) of x (head h) into 8-key panels dst[panel][d][8], zero-padded.
function packPanels(dst: usize, x: usize, kvIndex: usize, k0: i32, k1: i32, H: i32, D: i32, dp: i32): void {
  const nk = k1 - k0;
  const nkp = pad8(nk);
  memory.fill(dst, 0, <usize>(nkp * dp) << 2);
  for (let j = 0; j < nk; j++) {
    const src = f32At(x, (load<i32>(f32At(kvIndex, k0 + j)) * H) * D);
    const col = f32At(dst, (j >> 3) * dp * 8 + (j & 7));
    for (let d = 0; d < D; d++) store<f32>(col + (<usize>(d * 8) << 2), load<f32>(f32At(src, d)));
  }
}

// Gathers rows kvIndex[k0..k1) of x (head h) as rows of dp floats, zero-padded to a multiple of 8 rows.
function packRows(dst: usize, x: usize, kvIndex: usize, k0: i32, k1: i32, H: i32, D: i32, dp: i32, mul: f32): void {
  const nk = k1 - k0;
  memory.fill(dst, 0, <usize>(pad8(nk) * dp) << 2);
  const m = f32x4.splat(mul);
  for (let j = 0; j < nk; j++) {
    const src = f32At(x, (load<i32>(f32At(kvIndex, k0 + j)) * H) * D);
    const row = f32At(dst, j * dp);
    let d = 0;
    for (; d + 4 <= D; d += 4) v128.store(f32At(row, d), f32x4.mul(v128.load(f32At(src, d)), m));
    for (; d < D; d++) store<f32>(f32At(row, d), load<f32>(f32At(src, d)) * mul);
  }
}

// Query rows (head h) of qIndex[i0..i0+n) -> 4-row interleaved blocks dst[block][d][4] (scaled),
// zero-padded to BQ rows; and, when rowsDst != 0, also as rows of dp floats (scaled).
function packQ(dst: usize, rowsDst: usize, x: usize, qIndex: usize, i0: i32, n: i32, H: i32, D: i32, dp: i32, mul: f32): void {
  memory.fill(dst, 0, <usize>(BQ * dp) << 2);
  if (rowsDst) memory.fill(rowsDst, 0, <usize>(BQ * dp) << 2);
  for (let i = 0; i < n; i++) {
    const src = f32At(x, load<i32>(f32At(qIndex, i0 + i)) * H * D);
    const col = f32At(dst, (i >> 2) * dp * 4 + (i & 3));
    for (let d = 0; d < D; d++) {
      const val = load<f32>(f32At(src, d)) * mul;
      store<f32>(col + (<usize>(d * 4) << 2), val);
      if (rowsDst) store<f32>(f32At(rowsDst, i * dp + d), val);
    }
  }
}

// Writes 4 values of row i, keys j..j+3, into the PT layout [i / 4][key][i % 4] (row stride BK).
// @ts-ignore: decorator
@inline
function interleave(dst: usize, i: i32, j: i32, x: v128): void {
  const t = f32At(dst, (i >> 2) * BK * 4 + j * 4 + (i & 3));
  store<f32>(t, f32x4.extract_lane(x, 0));
  store<f32>(t, f32x4.extract_lane(x, 1), 16);
  store<f32>(t, f32x4.extract_lane(x, 2), 32);
  store<f32>(t, f32x4.extract_lane(x, 3), 48);
}

// S[4 rows, 8 keys] = A[block][d][4] . B[panel][d][8] over dp; S row stride BK.
// @ts-ignore: decorator
@inline
function dot4x8(a: usize, b: usize, dp: i32, s: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let d = 0; d < dp; d++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = fma(x, b0, c00);
    c01 = fma(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = fma(x, b0, c10);
    c11 = fma(x, b1, c11);
    x = v128.load32_splat(a, 8);
    c20 = fma(x, b0, c20);
    c21 = fma(x, b1, c21);
    x = v128.load32_splat(a, 12);
    c30 = fma(x, b0, c30);
    c31 = fma(x, b1, c31);
    a += 16;
    b += 32;
  }
  const ld: usize = <usize>BK << 2;
  v128.store(s, c00);
  v128.store(s, c01, 16);
  v128.store(s + ld, c10);
  v128.store(s + ld, c11, 16);
  v128.store(s + 2 * ld, c20);
  v128.store(s + 2 * ld, c21, 16);
  v128.store(s + 3 * ld, c30);
  v128.store(s + 3 * ld, c31, 16);
}

// S tile [rows4 x nk8] = Ablocks . Bpanels (rows4 = blocks of 4 query rows, nk8 keys from panel p0).
function scores(a: usize, b: usize, blocks: i32, panels: i32, dp: i32, s: usize): void {
  for (let rb = 0; rb < blocks; rb++)
    for (let p = 0; p < panels; p++)
      dot4x8(f32At(a, rb * dp * 4), f32At(b, p * dp * 8), dp, f32At(s, rb * 4 * BK + p * 8));
}

// C[4 rows, dp] = C * corr[row] + P[4 rows, nk] . V[nk, dp]; P in the PT layout (so the four
// broadcasts of a key use immediate offsets), V/C row stride dp. corr == 0 drops the old C.
function accumulate(c: usize, p: usize, v: usize, nk: i32, dp: i32, corr: usize, rows: i32): void {
  for (let rb = 0; rb < rows; rb += 4) {
    const pr = f32At(p, rb * BK);
    const cr = f32At(c, rb * dp);
    const k0 = v128.load32_splat(f32At(corr, rb));
    const k1 = v128.load32_splat(f32At(corr, rb + 1));
    const k2 = v128.load32_splat(f32At(corr, rb + 2));
    const k3 = v128.load32_splat(f32At(corr, rb + 3));
    const ld: usize = <usize>dp << 2;
    for (let d = 0; d < dp; d += 8) {
      const cd = f32At(cr, d);
      let c00 = f32x4.mul(v128.load(cd), k0), c01 = f32x4.mul(v128.load(cd, 16), k0);
      let c10 = f32x4.mul(v128.load(cd + ld), k1), c11 = f32x4.mul(v128.load(cd + ld, 16), k1);
      let c20 = f32x4.mul(v128.load(cd + 2 * ld), k2), c21 = f32x4.mul(v128.load(cd + 2 * ld, 16), k2);
      let c30 = f32x4.mul(v128.load(cd + 3 * ld), k3), c31 = f32x4.mul(v128.load(cd + 3 * ld, 16), k3);
      let vp = f32At(v, d);
      let pp = pr;
      for (let j = 0; j < nk; j++) {
        const b0 = v128.load(vp);
        const b1 = v128.load(vp, 16);
        let x = v128.load32_splat(pp);
        c00 = fma(x, b0, c00);
        c01 = fma(x, b1, c01);
        x = v128.load32_splat(pp, 4);
        c10 = fma(x, b0, c10);
        c11 = fma(x, b1, c11);
        x = v128.load32_splat(pp, 8);
        c20 = fma(x, b0, c20);
        c21 = fma(x, b1, c21);
        x = v128.load32_splat(pp, 12);
        c30 = fma(x, b0, c30);
        c31 = fma(x, b1, c31);
        vp += ld;
        pp += 16;
      }
      v128.store(cd, c00);
      v128.store(cd, c01, 16);
      v128.store(cd + ld, c10);
      v128.store(cd + ld, c11, 16);
      v128.store(cd + 2 * ld, c20);
      v128.store(cd + 2 * ld, c21, 16);
      v128.store(cd + 3 * ld, c30);
      v128.store(cd + 3 * ld, c31, 16);
    }
  }
}

// C[4 keys, dp] += A^T . B: C row j gets sum_i A[i][j] * B[i] (A row stride BK, B/C row stride dp),
// for keys [0, nk4) in blocks of 4 and query rows [0, nq).
function accumulateT(c: usize, a: usize, b: usize, nq: i32, nk4: i32, dp: i32): void {
  const ld: usize = <usize>dp << 2;
  const la: usize = <usize>BK << 2;
  for (let jb = 0; jb < nk4; jb += 4) {
    const cr = f32At(c, jb * dp);
    for (let d = 0; d < dp; d += 8) {
      const cd = f32At(cr, d);
      let c00 = v128.load(cd), c01 = v128.load(cd, 16);
      let c10 = v128.load(cd + ld), c11 = v128.load(cd + ld, 16);
      let c20 = v128.load(cd + 2 * ld), c21 = v128.load(cd + 2 * ld, 16);
      let c30 = v128.load(cd + 3 * ld), c31 = v128.load(cd + 3 * ld, 16);
      let bp = f32At(b, d);
      let ap = f32At(a, jb);
      for (let i = 0; i < nq; i++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        let x = v128.load32_splat(ap);
        c00 = fma(x, b0, c00);
        c01 = fma(x, b1, c01);
        x = v128.load32_splat(ap, 4);
        c10 = fma(x, b0, c10);
        c11 = fma(x, b1, c11);
        x = v128.load32_splat(ap, 8);
        c20 = fma(x, b0, c20);
        c21 = fma(x, b1, c21);
        x = v128.load32_splat(ap, 12);
        c30 = fma(x, b0, c30);
        c31 = fma(x, b1, c31);
        bp += ld;
        ap += la;
      }
      v128.store(cd, c00);
      v128.store(cd, c01, 16);
      v128.store(cd + ld, c10);
      v128.store(cd + ld, c11, 16);
      v128.store(cd + 2 * ld, c20);
      v128.store(cd + 2 * ld, c21, 16);
      v128.store(cd + 3 * ld, c30);
      v128.store(cd + 3 * ld, c31, 16);
    }
  }
}

/** Forward over `nItems` items; rows outside every item are left as they are (the caller zeroes). */
export function attentionForward(
  items: usize, nItems: i32,
  qIndex: usize, kvIndex: usize, kvOffsets: usize,
  H: i32, D: i32, scale: f32,
  q: usize, k: usize, v: usize, out: usize, lse: usize, work: usize,
): void {
  const dp = pad8(D);
  const kp: usize = (work + 15) & ~(<usize>15);
  let maxKv = 0;
  for (let t = 0; t < nItems; t++) {
    const seg = load<i32>(f32At(items, 4 * t));
    maxKv = max(maxKv, load<i32>(f32At(kvOffsets, seg + 1)) - load<i32>(f32At(kvOffsets, seg)));
  }
  const vr = f32At(kp, pad8(maxKv) * dp);
  const qp = f32At(vr, pad8(maxKv) * dp);
  const o = f32At(qp, BQ * dp);
  const s = f32At(o, BQ * dp);
  const m = f32At(s, BQ * BK);
  const l = f32At(m, BQ);
  const corr = f32At(l, BQ);
  const pt = f32At(corr, BQ); // P as 4-row interleaved blocks [block][key][4] (PT layout)
  let lastSeg = -1;
  let lastH = -1;
  for (let t = 0; t < nItems; t++) {
    const it = f32At(items, 4 * t);
    const seg = load<i32>(it);
    const h = load<i32>(it, 4);
    const qa = load<i32>(it, 8);
    const qb = load<i32>(it, 12);
    const k0 = load<i32>(f32At(kvOffsets, seg));
    const k1 = load<i32>(f32At(kvOffsets, seg + 1));
    const nk = k1 - k0;
    if (nk == 0 || qa >= qb) continue;
    if (seg != lastSeg || h != lastH) {
      packPanels(kp, f32At(k, h * D), kvIndex, k0, k1, H, D, dp);
      packRows(vr, f32At(v, h * D), kvIndex, k0, k1, H, D, dp, 1);
      lastSeg = seg;
      lastH = h;
    }
    for (let i0 = qa; i0 < qb; i0 += BQ) {
      const nq = min(BQ, qb - i0);
      const rows = (nq + 3) & ~3;
      packQ(qp, 0, f32At(q, h * D), qIndex, i0, nq, H, D, dp, scale);
      for (let i = 0; i < rows; i++) {
        store<f32>(f32At(m, i), -Infinity);
        store<f32>(f32At(l, i), 0);
        store<f32>(f32At(corr, i), 0);
      }
      memory.fill(o, 0, <usize>(rows * dp) << 2);
      for (let j0 = 0; j0 < nk; j0 += BK) {
        const nkt = min(BK, nk - j0);
        const nk8 = pad8(nkt);
        scores(qp, f32At(kp, j0 * dp), rows >> 2, nk8 >> 3, dp, s);
        // Online softmax over this key tile, row by row.
        for (let i = 0; i < rows; i++) {
          const sr = f32At(s, i * BK);
          for (let j = nkt; j < nk8; j++) store<f32>(f32At(sr, j), -Infinity);
          let mv = f32x4.splat(-Infinity);
          for (let j = 0; j < nk8; j += 4) mv = f32x4.max(mv, v128.load(f32At(sr, j)));
          const mOld = load<f32>(f32At(m, i));
          const mNew = max(mOld, hmax(mv));
          const mn = f32x4.splat(mNew);
          let sv = f32x4.splat(0);
          for (let j = 0; j < nk8; j += 4) {
            const e = vexp(f32x4.sub(v128.load(f32At(sr, j)), mn));
            v128.store(f32At(sr, j), e);
            interleave(pt, i, j, e);
            sv = f32x4.add(sv, e);
          }
          const c: f32 = mOld == -Infinity ? 0 : Mathf.exp(mOld - mNew);
          store<f32>(f32At(corr, i), c);
          store<f32>(f32At(l, i), load<f32>(f32At(l, i)) * c + hsum(sv));
          store<f32>(f32At(m, i), mNew);
        }
        accumulate(o, pt, f32At(vr, j0 * dp), nkt, dp, corr, rows);
      }
      for (let i = 0; i < nq; i++) {
        const r = load<i32>(f32At(qIndex, i0 + i));
        const dst = f32At(out, (r * H + h) * D);
        const li = load<f32>(f32At(l, i));
        const inv = f32x4.splat(1 / li);
        const src = f32At(o, i * dp);
        let d = 0;
        for (; d + 4 <= D; d += 4) v128.store(f32At(dst, d), f32x4.mul(v128.load(f32At(src, d)), inv));
        for (; d < D; d++) store<f32>(f32At(dst, d), load<f32>(f32At(src, d)) / li);
        store<f32>(f32At(lse, r * H + h), load<f32>(f32At(m, i)) + Mathf.log(li));
      }
    }
  }
}

/**
 * Backward over `nItems` items (segment, head, query range). dq rows of the items are written.
 * With partial == 0, dk and dv rows are accumulated into (the caller zeroes them, and gives items
 * that may add to the same rows to the same thread). Otherwise this call has one item, and its dK
 * and dV contributions for the segment's keys go to partial [2, nk, D] (key order of the plan),
 * for the caller to sum: so one segment's queries can be split across threads.
 */
export function attentionBackward(
  items: usize, nItems: i32,
  qIndex: usize, kvIndex: usize, kvOffsets: usize,
  H: i32, D: i32, scale: f32,
  dOut: usize, q: usize, k: usize, v: usize, out: usize, lse: usize,
  dq: usize, dk: usize, dv: usize, work: usize, partial: usize,
): void {
  const dp = pad8(D);
  let maxKv = 0;
  for (let t = 0; t < nItems; t++) {
    const seg = load<i32>(f32At(items, 4 * t));
    maxKv = max(maxKv, load<i32>(f32At(kvOffsets, seg + 1)) - load<i32>(f32At(kvOffsets, seg)));
  }
  const nkpMax = pad8(maxKv) * dp;
  const kp: usize = (work + 15) & ~(<usize>15);
  const kr = f32At(kp, nkpMax);
  const vp = f32At(kr, nkpMax);
  const gk = f32At(vp, nkpMax);
  const gv = f32At(gk, nkpMax);
  const qp = f32At(gv, nkpMax);
  const qr = f32At(qp, BQ * dp);
  const op = f32At(qr, BQ * dp);
  const or = f32At(op, BQ * dp);
  const gq = f32At(or, BQ * dp);
  const s = f32At(gq, BQ * dp);
  const ds = f32At(s, BQ * BK);
  const ls = f32At(ds, BQ * BK);
  const delta = f32At(ls, BQ);
  const dsT = f32At(delta, BQ); // dS in the PT layout, for dQ += dS K
  for (let t = 0; t < nItems; t++) {
    const it = f32At(items, 4 * t);
    const seg = load<i32>(it);
    const h = load<i32>(it, 4);
    const qa = load<i32>(it, 8);
    const qb = load<i32>(it, 12);
    const k0 = load<i32>(f32At(kvOffsets, seg));
    const k1 = load<i32>(f32At(kvOffsets, seg + 1));
    const nk = k1 - k0;
    if (nk == 0 || qa >= qb) continue;
    const hd = h * D;
    packPanels(kp, f32At(k, hd), kvIndex, k0, k1, H, D, dp);
    packRows(kr, f32At(k, hd), kvIndex, k0, k1, H, D, dp, 1);
    packPanels(vp, f32At(v, hd), kvIndex, k0, k1, H, D, dp);
    memory.fill(gk, 0, <usize>(pad8(nk) * dp) << 2);
    memory.fill(gv, 0, <usize>(pad8(nk) * dp) << 2);
    for (let i0 = qa; i0 < qb; i0 += BQ) {
      const nq = min(BQ, qb - i0);
      const rows = (nq + 3) & ~3;
      packQ(qp, qr, f32At(q, hd), qIndex, i0, nq, H, D, dp, scale);
      packQ(op, or, f32At(dOut, hd), qIndex, i0, nq, H, D, dp, 1);
      for (let i = 0; i < rows; i++) {
        if (i < nq) {
          const r = load<i32>(f32At(qIndex, i0 + i));
          const e = (r * H + h) * D;
          let t2: f32 = 0;
          for (let d = 0; d < D; d++) t2 += load<f32>(f32At(dOut, e + d)) * load<f32>(f32At(out, e + d));
          store<f32>(f32At(delta, i), t2);
          store<f32>(f32At(ls, i), load<f32>(f32At(lse, r * H + h)));
        } else {
          store<f32>(f32At(delta, i), 0);
          store<f32>(f32At(ls, i), Infinity); // padding rows: P = 0
        }
      }
      memory.fill(gq, 0, <usize>(rows * dp) << 2);
      for (let j0 = 0; j0 < nk; j0 += BK) {
        const nkt = min(BK, nk - j0);
        const nk8 = pad8(nkt);
        scores(qp, f32At(kp, j0 * dp), rows >> 2, nk8 >> 3, dp, s);
        scores(op, f32At(vp, j0 * dp), rows >> 2, nk8 >> 3, dp, ds);
        for (let i = 0; i < rows; i++) {
          const sr = f32At(s, i * BK);
          const dr = f32At(ds, i * BK);
          for (let j = nkt; j < nk8; j++) store<f32>(f32At(sr, j), -Infinity);
          const L = f32x4.splat(load<f32>(f32At(ls, i)));
          const dl = f32x4.splat(load<f32>(f32At(delta, i)));
          for (let j = 0; j < nk8; j += 4) {
            const p = vexp(f32x4.sub(v128.load(f32At(sr, j)), L));
            v128.store(f32At(sr, j), p);
            const g = f32x4.mul(p, f32x4.sub(v128.load(f32At(dr, j)), dl));
            v128.store(f32At(dr, j), g);
            interleave(dsT, i, j, g);
          }
        }
        const nk4 = (nkt + 3) & ~3;
        accumulateT(f32At(gv, j0 * dp), s, or, nq, nk4, dp); // dV += P^T dO
        accumulateT(f32At(gk, j0 * dp), ds, qr, nq, nk4, dp); // dK += dS^T (scale q)
        accumulateAdd(gq, dsT, f32At(kr, j0 * dp), nkt, dp, rows); // dQ += dS K
      }
      for (let i = 0; i < nq; i++) {
        const r = load<i32>(f32At(qIndex, i0 + i));
        const dst = f32At(dq, (r * H + h) * D);
        const src = f32At(gq, i * dp);
        for (let d = 0; d < D; d++) store<f32>(f32At(dst, d), load<f32>(f32At(src, d)) * scale);
      }
    }
    if (partial) {
      for (let j = 0; j < nk; j++) {
        memory.copy(f32At(partial, j * D), f32At(gk, j * dp), <usize>D << 2);
        memory.copy(f32At(partial, (nk + j) * D), f32At(gv, j * dp), <usize>D << 2);
      }
      continue;
    }
    for (let j = 0; j < nk; j++) {
      const e = (load<i32>(f32At(kvIndex, k0 + j)) * H + h) * D;
      const sk = f32At(gk, j * dp);
      const sv = f32At(gv, j * dp);
      for (let d = 0; d < D; d++) {
        store<f32>(f32At(dk, e + d), load<f32>(f32At(dk, e + d)) + load<f32>(f32At(sk, d)));
        store<f32>(f32At(dv, e + d), load<f32>(f32At(dv, e + d)) + load<f32>(f32At(sv, d)));
      }
    }
  }
}

// C[4 rows, dp] += A[4 rows, nk] . B[nk, dp]; A in the PT layout, B/C row stride dp.
function accumulateAdd(c: usize, a: usize, b: usize, nk: i32, dp: i32, rows: i32): void {
  const ld: usize = <usize>dp << 2;
  for (let rb = 0; rb < rows; rb += 4) {
    const ar = f32At(a, rb * BK);
    const cr = f32At(c, rb * dp);
    for (let d = 0; d < dp; d += 8) {
      const cd = f32At(cr, d);
      let c00 = v128.load(cd), c01 = v128.load(cd, 16);
      let c10 = v128.load(cd + ld), c11 = v128.load(cd + ld, 16);
      let c20 = v128.load(cd + 2 * ld), c21 = v128.load(cd + 2 * ld, 16);
      let c30 = v128.load(cd + 3 * ld), c31 = v128.load(cd + 3 * ld, 16);
      let bp = f32At(b, d);
      let ap = ar;
      for (let j = 0; j < nk; j++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        let x = v128.load32_splat(ap);
        c00 = fma(x, b0, c00);
        c01 = fma(x, b1, c01);
        x = v128.load32_splat(ap, 4);
        c10 = fma(x, b0, c10);
        c11 = fma(x, b1, c11);
        x = v128.load32_splat(ap, 8);
        c20 = fma(x, b0, c20);
        c21 = fma(x, b1, c21);
        x = v128.load32_splat(ap, 12);
        c30 = fma(x, b0, c30);
        c31 = fma(x, b1, c31);
        bp += ld;
        ap += 16;
      }
      v128.store(cd, c00);
      v128.store(cd, c01, 16);
      v128.store(cd + ld, c10);
      v128.store(cd + ld, c11, 16);
      v128.store(cd + 2 * ld, c20);
      v128.store(cd + 2 * ld, c21, 16);
      v128.store(cd + 3 * ld, c30);
      v128.store(cd + 3 * ld, c31, 16);
    }
  }
}
