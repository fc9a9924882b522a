// Data movement on 4-byte elements (float32 or int32 alike): one strided copy serves permute,
// slice, broadcastTo and pad; rows are gathered and scatter-added by an int32 index.

/**
 * y[odometer over shape] = x[same index], element offsets by xs / ys (int32[rank] each, strides in
 * elements; 0 in xs broadcasts). shape, xs, ys point at int32 arrays. The last axis is the inner loop.
 */
export function stridedCopy(x: usize, y: usize, rank: i32, shape: usize, xs: usize, ys: usize, idx: usize): void {
  if (rank == 0) {
    store<u32>(y, load<u32>(x));
    return;
  }
  const last = rank - 1;
  const n = load<i32>(shape + (<usize>last << 2));
  const sx = load<i32>(xs + (<usize>last << 2));
  const sy = load<i32>(ys + (<usize>last << 2));
  for (let a = 0; a < rank; a++) {
    if (load<i32>(shape + (<usize>a << 2)) == 0) return;
    store<i32>(idx + (<usize>a << 2), 0);
  }
  let xo: usize = x;
  let yo: usize = y;
  while (true) {
    if (sx == 1 && sy == 1) memory.copy(yo, xo, <usize>n << 2);
    else if (sx == 0 && sy == 1) {
      const v = v128.load32_splat(xo);
      let j = 0;
      for (; j + 4 <= n; j += 4) v128.store(yo + (<usize>j << 2), v);
      for (; j < n; j++) store<u32>(yo + (<usize>j << 2), load<u32>(xo));
    } else {
      const bx = <usize>sx << 2;
      const by = <usize>sy << 2;
      let p = xo;
      let q = yo;
      for (let j = 0; j < n; j++) {
        store<u32>(q, load<u32>(p));
        p += bx;
        q += by;
      }
    }
    // Odometer over the outer axes.
    let a = last - 1;
    for (; a >= 0; a--) {
      const ia = idx + (<usize>a << 2);
      const i = load<i32>(ia) + 1;
      const ax = <usize>load<i32>(xs + (<usize>a << 2)) << 2;
      const ay = <usize>load<i32>(ys + (<usize>a << 2)) << 2;
      if (i < load<i32>(shape + (<usize>a << 2))) {
        store<i32>(ia, i);
        xo += ax;
        yo += ay;
        break;
      }
      store<i32>(ia, 0);
      xo -= ax * <usize>(i - 1);
      yo -= ay * <usize>(i - 1);
    }
    if (a < 0) return;
  }
}

/** y[r, :] = x[idx[r], :] for r < m, rows of w elements (indices checked by the caller). */
export function gatherRows(x: usize, idx: usize, y: usize, m: i32, w: i32): void {
  const row = <usize>w << 2;
  for (let r = 0; r < m; r++) memory.copy(y + <usize>r * row, x + <usize>load<i32>(idx + (<usize>r << 2)) * row, row);
}

/** y [rows, w] = 0, then y[idx[r], :] += src[r, :] (indices checked by the caller). */
export function scatterAddRows(src: usize, idx: usize, y: usize, m: i32, w: i32, rows: i32): void {
  const row = <usize>w << 2;
  memory.fill(y, 0, <usize>rows * row);
  for (let r = 0; r < m; r++) {
    const d = y + <usize>load<i32>(idx + (<usize>r << 2)) * row;
    const s = src + <usize>r * row;
    let j = 0;
    for (; j + 4 <= w; j += 4) {
      const q = <usize>j << 2;
      v128.store(d + q, f32x4.add(v128.load(d + q), v128.load(s + q)));
    }
    for (; j < w; j++) {
      const q = <usize>j << 2;
      store<f32>(d + q, load<f32>(d + q) + load<f32>(s + q));
    }
  }
}

/** n 4-byte elements at y set to the bit pattern `bits` (typed-array fill on shared memory is slow in V8). */
export function fill32(y: usize, n: i32, bits: u32): void {
  if (bits == 0) {
    memory.fill(y, 0, <usize>n << 2);
    return;
  }
  const v = i32x4.splat(bits);
  let j = 0;
  for (; j + 4 <= n; j += 4) v128.store(y + (<usize>j << 2), v);
  for (; j < n; j++) store<u32>(y + (<usize>j << 2), bits);
}

/** memmove of `bytes` bytes. */
export function copyBytes(dst: usize, src: usize, bytes: usize): void {
  memory.copy(dst, src, bytes);
}

/**
 * y[i * syr + j] = x[i + j * sxc] for i < rows, j < cols: a 2-D transpose (x contiguous along i,
 * y along j), in 16 x 16 tiles of 4 x 4 SIMD transposes (4 loads, 8 shuffles, 4 stores).
 */
export function transpose2d(x: usize, y: usize, rows: i32, cols: i32, sxc: i32, syr: i32): void {
  const T = 16;
  const xs = <usize>sxc << 2;
  const ys = <usize>syr << 2;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = min(rows, i0 + T);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = min(cols, j0 + T);
      let i = i0;
      for (; i + 4 <= i1; i += 4) {
        let j = j0;
        for (; j + 4 <= j1; j += 4) {
          const p = x + (<usize>i << 2) + <usize>j * xs;
          const r0 = v128.load(p);
          const r1 = v128.load(p + xs);
          const r2 = v128.load(p + 2 * xs);
          const r3 = v128.load(p + 3 * xs);
          const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
          const t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
          const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
          const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
          const q = y + <usize>i * ys + (<usize>j << 2);
          v128.store(q, i32x4.shuffle(t0, t2, 0, 1, 4, 5));
          v128.store(q + ys, i32x4.shuffle(t0, t2, 2, 3, 6, 7));
          v128.store(q + 2 * ys, i32x4.shuffle(t1, t3, 0, 1, 4, 5));
          v128.store(q + 3 * ys, i32x4.shuffle(t1, t3, 2, 3, 6, 7));
        }
        for (; j < j1; j++)
          for (let r = 0; r < 4; r++)
            store<u32>(y + <usize>(i + r) * ys + (<usize>j << 2), load<u32>(x + (<usize>(i + r) << 2) + <usize>j * xs));
      }
      for (; i < i1; i++)
        for (let j = j0; j < j1; j++)
          store<u32>(y + <usize>i * ys + (<usize>j << 2), load<u32>(x + (<usize>i << 2) + <usize>j * xs));
    }
  }
}
