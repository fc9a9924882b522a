// im2col / col2im for 3D convolution (the GEMM does the arithmetic). For output rows r in [r0, r1)
// (r = to * Ho + ho) of one batch item: col[k][(r - r0) * Wo + wo] = x[ci, ti, hi, wi] with
// k = ((ci * KT + kt) * KH + kh) * KW + kw, ti = to*st + kt - pt, hi = ho*sh + kh - ph,
// wi = wo*sw + kw - pw; zero where the tap falls in the padding. col2im adds the adjoint into dx.

// Valid output columns [wo0, wo1) of tap kw: 0 <= wo*sw + kw - pw < W.
@inline function colStart(kw: i32, sw: i32, pw: i32): i32 {
  const d = pw - kw;
  return d > 0 ? (d + sw - 1) / sw : 0;
}
@inline function colEnd(kw: i32, sw: i32, pw: i32, W: i32, Wo: i32): i32 {
  const d = W - 1 - kw + pw;
  return d < 0 ? 0 : min(Wo, d / sw + 1);
}

export function convIm2col(
  x: usize, col: usize,
  Ci: i32, T: i32, H: i32, W: i32, KT: i32, KH: i32, KW: i32, Ho: i32, Wo: i32,
  st: i32, sh: i32, sw: i32, pt: i32, ph: i32, pw: i32, r0: i32, r1: i32,
): void {
  const np = (r1 - r0) * Wo;
  const xp = T * H * W;
  let k = 0;
  for (let ci = 0; ci < Ci; ci++) {
    const xb = ci * xp;
    for (let kt = 0; kt < KT; kt++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++) {
          const cb = col + (<usize>(k * np) << 2);
          const wo0 = colStart(kw, sw, pw);
          const wo1 = max(wo0, colEnd(kw, sw, pw, W, Wo));
          for (let r = r0; r < r1; r++) {
            const to = r / Ho;
            const ho = r - to * Ho;
            const ti = to * st + kt - pt;
            const hi = ho * sh + kh - ph;
            const o = cb + (<usize>((r - r0) * Wo) << 2);
            if (ti < 0 || ti >= T || hi < 0 || hi >= H) {
              memory.fill(o, 0, <usize>Wo << 2);
              continue;
            }
            const base = xb + (ti * H + hi) * W + kw - pw;
            if (wo0 > 0) memory.fill(o, 0, <usize>wo0 << 2);
            if (sw == 1) {
              if (wo1 > wo0) memory.copy(o + (<usize>wo0 << 2), x + (<usize>(base + wo0) << 2), <usize>(wo1 - wo0) << 2);
            } else {
              for (let wo = wo0; wo < wo1; wo++) store<f32>(o + (<usize>wo << 2), load<f32>(x + (<usize>(base + wo * sw) << 2)));
            }
            if (wo1 < Wo) memory.fill(o + (<usize>wo1 << 2), 0, <usize>(Wo - wo1) << 2);
          }
          k++;
        }
  }
}

export function convCol2im(
  col: usize, dx: usize,
  Ci: i32, T: i32, H: i32, W: i32, KT: i32, KH: i32, KW: i32, Ho: i32, Wo: i32,
  st: i32, sh: i32, sw: i32, pt: i32, ph: i32, pw: i32, r0: i32, r1: i32,
): void {
  const np = (r1 - r0) * Wo;
  const xp = T * H * W;
  let k = 0;
  for (let ci = 0; ci < Ci; ci++) {
    const xb = ci * xp;
    for (let kt = 0; kt < KT; kt++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++) {
          const cb = col + (<usize>(k * np) << 2);
          const wo0 = colStart(kw, sw, pw);
          const wo1 = colEnd(kw, sw, pw, W, Wo);
          for (let r = r0; r < r1; r++) {
            const to = r / Ho;
            const ho = r - to * Ho;
            const ti = to * st + kt - pt;
            const hi = ho * sh + kh - ph;
            if (ti < 0 || ti >= T || hi < 0 || hi >= H) continue;
            const o = cb + (<usize>((r - r0) * Wo) << 2);
            const base = xb + (ti * H + hi) * W + kw - pw;
            if (sw == 1) {
              let wo = wo0;
              for (; wo + 4 <= wo1; wo += 4) {
                const q = dx + (<usize>(base + wo) << 2);
                v128.store(q, f32x4.add(v128.load(q), v128.load(o + (<usize>wo << 2))));
              }
              for (; wo < wo1; wo++) {
                const q = dx + (<usize>(base + wo) << 2);
                store<f32>(q, load<f32>(q) + load<f32>(o + (<usize>wo << 2)));
              }
            } else {
              for (let wo = wo0; wo < wo1; wo++) {
                const q = dx + (<usize>(base + wo * sw) << 2);
                store<f32>(q, load<f32>(q) + load<f32>(o + (<usize>wo << 2)));
              }
            }
          }
          k++;
        }
  }
}
