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
