// Packed, register-tiled SGEMM (the BLIS loop nest): C[m, n] = op(A)[m, k] . op(B)[k, n].
// Operands are addressed by element strides, so transposes cost nothing here: element (i, p) of
// op(A) is at a + 4 * (i * ars + p * acs). Blocks: B panel KC x NC (L2/L3), A block MC x KC (L2),
// one MR x NR tile of C in registers (6 x 8 floats = 12 v128 accumulators: enough independent FMA
// chains to cover the FMA latency; x64 has 16 xmm, V8 keeps one as scratch).
import { claim, finish } from './claim';
import { fma } from './simd';

const MR: i32 = 6;
const NR: i32 = 8;
const KC: i32 = 384;
const MC: i32 = 72;
const NC: i32 = 1024;

/** Bytes of scratch one thread needs for `gemm`: packed A block, packed B panel, one C tile. */
export function gemmWorkBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR) * 4;
}

// A rows [0, mc) x cols [0, kc) -> MR-row micro-panels: A(i0 + r, p) at i0 * kc + p * MR + r.
function packA(dst: usize, a: usize, rs: i32, cs: i32, mc: i32, kc: i32): void {
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const rows = min(MR, mc - i0);
    const panel = dst + (<usize>(i0 * kc) << 2);
    const src = a + (<usize>(i0 * rs) << 2);
    if (rows == MR) {
      const s1 = <usize>rs << 2;
      const st = <usize>cs << 2;
      let q = src;
      for (let p = 0; p < kc; p++) {
        const d = panel + (<usize>(p * MR) << 2);
        store<f32>(d, load<f32>(q));
        store<f32>(d, load<f32>(q + s1), 4);
        store<f32>(d, load<f32>(q + 2 * s1), 8);
        store<f32>(d, load<f32>(q + 3 * s1), 12);
        store<f32>(d, load<f32>(q + 4 * s1), 16);
        store<f32>(d, load<f32>(q + 5 * s1), 20);
        q += st;
      }
    } else {
      for (let p = 0; p < kc; p++)
        for (let r = 0; r < MR; r++) {
          const v: f32 = r < rows ? load<f32>(src + (<usize>(r * rs + p * cs) << 2)) : 0;
          store<f32>(panel + (<usize>(p * MR + r) << 2), v);
        }
    }
  }
}

// B rows [0, kc) x cols [0, nc) -> NR-column micro-panels: B(p, j0 + c) at j0 * kc + p * NR + c.
function packB(dst: usize, b: usize, rs: i32, cs: i32, kc: i32, nc: i32): void {
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = min(NR, nc - j0);
    const panel = dst + (<usize>(j0 * kc) << 2);
    if (cols == NR && cs == 1) {
      let q = b + (<usize>j0 << 2);
      const st = <usize>rs << 2;
      for (let p = 0; p < kc; p++) {
        const d = panel + (<usize>(p * NR) << 2);
        v128.store(d, v128.load(q));
        v128.store(d, v128.load(q, 16), 16);
        q += st;
      }
    } else {
      for (let c = 0; c < NR; c++) {
        if (c < cols) {
          const col = b + (<usize>((j0 + c) * cs) << 2);
          for (let p = 0; p < kc; p++)
            store<f32>(panel + (<usize>(p * NR + c) << 2), load<f32>(col + (<usize>(p * rs) << 2)));
        } else {
          for (let p = 0; p < kc; p++) store<f32>(panel + (<usize>(p * NR + c) << 2), 0);
        }
      }
    }
  }
}

// One MR x NR tile: C[rows, cols] (+)= Ap . Bp over kc. Edge tiles go through `tmp`.
function tile(ap: usize, bp: usize, kc: i32, c: usize, ldc: i32, rows: i32, cols: i32, acc: bool, tmp: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  let b0: v128, b1: v128, a: v128;
  let p = 0;
  for (; p < kc; p++) {
    b0 = v128.load(bp, 0);
    b1 = v128.load(bp, 16);
    a = v128.load32_splat(ap, 0);
    c00 = fma(a, b0, c00);
    c01 = fma(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = fma(a, b0, c10);
    c11 = fma(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = fma(a, b0, c20);
    c21 = fma(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = fma(a, b0, c30);
    c31 = fma(a, b1, c31);
    a = v128.load32_splat(ap, 16);
    c40 = fma(a, b0, c40);
    c41 = fma(a, b1, c41);
    a = v128.load32_splat(ap, 20);
    c50 = fma(a, b0, c50);
    c51 = fma(a, b1, c51);
    ap += 24;
    bp += 32;
  }
  const ld = <usize>ldc << 2;
  if (rows == MR && cols == NR) {
    let q = c;
    if (acc) {
      v128.store(q, f32x4.add(v128.load(q), c00));
      v128.store(q, f32x4.add(v128.load(q, 16), c01), 16);
      q += ld;
      v128.store(q, f32x4.add(v128.load(q), c10));
      v128.store(q, f32x4.add(v128.load(q, 16), c11), 16);
      q += ld;
      v128.store(q, f32x4.add(v128.load(q), c20));
      v128.store(q, f32x4.add(v128.load(q, 16), c21), 16);
      q += ld;
      v128.store(q, f32x4.add(v128.load(q), c30));
      v128.store(q, f32x4.add(v128.load(q, 16), c31), 16);
      q += ld;
      v128.store(q, f32x4.add(v128.load(q), c40));
      v128.store(q, f32x4.add(v128.load(q, 16), c41), 16);
      q += ld;
      v128.store(q, f32x4.add(v128.load(q), c50));
      v128.store(q, f32x4.add(v128.load(q, 16), c51), 16);
    } else {
      v128.store(q, c00);
      v128.store(q, c01, 16);
      q += ld;
      v128.store(q, c10);
      v128.store(q, c11, 16);
      q += ld;
      v128.store(q, c20);
      v128.store(q, c21, 16);
      q += ld;
      v128.store(q, c30);
      v128.store(q, c31, 16);
      q += ld;
      v128.store(q, c40);
      v128.store(q, c41, 16);
      q += ld;
      v128.store(q, c50);
      v128.store(q, c51, 16);
    }
    return;
  }
  v128.store(tmp, c00, 0);
  v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32);
  v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64);
  v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96);
  v128.store(tmp, c31, 112);
  v128.store(tmp, c40, 128);
  v128.store(tmp, c41, 144);
  v128.store(tmp, c50, 160);
  v128.store(tmp, c51, 176);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < cols; j++) {
      const q = c + (<usize>(r * ldc + j) << 2);
      const v = load<f32>(tmp + (<usize>(r * NR + j) << 2));
      store<f32>(q, acc ? load<f32>(q) + v : v);
    }
}

/** C[m, n] (row stride ldc) = op(A) . op(B); `work` is gemmWorkBytes() of this thread's scratch. */
export function gemm(
  m: i32, n: i32, k: i32,
  a: usize, ars: i32, acs: i32,
  b: usize, brs: i32, bcs: i32,
  c: usize, ldc: i32, work: usize,
): void {
  gemmCore(m, n, k, a, ars, acs, b, brs, bcs, c, ldc, work, 0);
}

/**
 * op(B)[k, n] packed once, in the order gemmCore reads it: column block jc (NC wide) at jc * k,
 * within it row block pc at pc * ncPadded (NR-padded width). Threads that split the rows of one
 * product share this copy instead of each packing B again. Size: k * roundUp(n, NR) floats.
 */
export function packBFull(dst: usize, b: usize, brs: i32, bcs: i32, k: i32, n: i32): void {
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    const ncPad = (nc + NR - 1) / NR * NR;
    for (let pc = 0; pc < k; pc += KC)
      packB(dst + (<usize>(jc * k + pc * ncPad) << 2), b + (<usize>(pc * brs + jc * bcs) << 2), brs, bcs, min(KC, k - pc), nc);
  }
}

// The loop nest; `prepacked` (non-zero) is a packBFull copy of op(B), else B is packed per block.
function gemmCore(
  m: i32, n: i32, k: i32,
  a: usize, ars: i32, acs: i32,
  b: usize, brs: i32, bcs: i32,
  c: usize, ldc: i32, work: usize, prepacked: usize,
): void {
  if (k == 0) {
    for (let i = 0; i < m; i++) memory.fill(c + (<usize>(i * ldc) << 2), 0, <usize>n << 2);
    return;
  }
  const ap = work;
  const own = work + (<usize>(MC * KC) << 2);
  const tmp = own + (<usize>(KC * NC) << 2);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    const ncPad = (nc + NR - 1) / NR * NR;
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      let bpk = own;
      if (prepacked) bpk = prepacked + (<usize>(jc * k + pc * ncPad) << 2);
      else packB(bpk, b + (<usize>(pc * brs + jc * bcs) << 2), brs, bcs, kc, nc);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(ap, a + (<usize>(ic * ars + pc * acs) << 2), ars, acs, mc, kc);
        for (let jr = 0; jr < nc; jr += NR)
          for (let ir = 0; ir < mc; ir += MR)
            tile(
              ap + (<usize>(ir * kc) << 2), bpk + (<usize>(jr * kc) << 2), kc,
              c + (<usize>((ic + ir) * ldc + jc + jr) << 2), ldc,
              min(MR, mc - ir), min(NR, nc - jr), pc > 0, tmp,
            );
      }
    }
  }
}

/**
 * `nb` GEMMs sharing sizes and strides; `offs` holds (aOff, bOff, cOff) int32 element offsets per
 * matrix (broadcast batch dims repeat an offset). Threads take batch ranges or row ranges of this.
 */
export function gemmBatched(
  nb: i32, offs: usize,
  m: i32, n: i32, k: i32,
  a: usize, ars: i32, acs: i32,
  b: usize, brs: i32, bcs: i32,
  c: usize, ldc: i32, work: usize,
): void {
  for (let t = 0; t < nb; t++) {
    const o = offs + (<usize>(t * 12));
    gemm(
      m, n, k,
      a + (<usize>load<i32>(o) << 2), ars, acs,
      b + (<usize>load<i32>(o, 4) << 2), brs, bcs,
      c + (<usize>load<i32>(o, 8) << 2), ldc, work,
    );
  }
}

/**
 * Work-sharing form of gemmBatched for the thread pool (see claim.ts): chunk i is matrix
 * i / perMatrix, rows [r0, r0 + chunkRows). `bp` is a packBFull copy of the (single) B when the
 * chunks split one product, else 0.
 */
export function gemmChunks(
  ctl: usize, gen: i32, chunks: i32, chunkRows: i32, perMatrix: i32, offs: usize,
  m: i32, n: i32, k: i32,
  a: usize, ars: i32, acs: i32,
  b: usize, brs: i32, bcs: i32,
  c: usize, ldc: i32, bp: usize, work: usize,
): void {
  for (let i = claim(ctl, gen, chunks); i >= 0; i = claim(ctl, gen, chunks)) {
    const t = i / perMatrix;
    const r0 = (i % perMatrix) * chunkRows;
    const o = offs + (<usize>(t * 12));
    gemmCore(
      min(chunkRows, m - r0), n, k,
      a + (<usize>(load<i32>(o) + r0 * ars) << 2), ars, acs,
      b + (<usize>load<i32>(o, 4) << 2), brs, bcs,
      c + (<usize>(load<i32>(o, 8) + r0 * ldc) << 2), ldc, work, bp,
    );
    finish(ctl);
  }
}
