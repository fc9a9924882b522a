/**
 * Host versions of the kernels of rows.cu and gemm.cu for the mock driver, with the CUDA grid
 * mapping: one row per block where the kernel takes a block per row (so a grid that covers too few
 * rows leaves them unwritten here too), the (column block, row chunk) blocks of norm_bwd_partials,
 * the 64x64 output tiles of gemm_f32. Sums run in float64; the device's float32 sums differ by
 * rounding only.
 */
import type { LaunchConfig } from '../../../src/backends/cuda/driver-types.js';
import type { MockKernel } from './driver.js';

/** The block reduction of rows.cu needs whole warps. */
function checkRowBlock(name: string, cfg: LaunchConfig) {
  if (cfg.block[0] % 32 !== 0 || cfg.block[1] !== 1) throw new Error(`${name}: block must be whole warps`);
}

function perRow(name: string, f: MockKernel): MockKernel {
  return (mem, a, cfg, v) => {
    checkRowBlock(name, cfg);
    f(mem, a, cfg, v);
  };
}

export const MOCK_ROWS_KERNELS: Record<string, MockKernel> = {
  reduce_rows: perRow('reduce_rows', (mem, [x, y, cols, op], cfg) => {
    for (let r = 0; r < cfg.grid[0]; r++) {
      const row = mem.f32(x + r * cols * 4, cols);
      let acc = op ? Number.NEGATIVE_INFINITY : 0;
      let nan = false;
      for (const e of row) {
        nan ||= Number.isNaN(e);
        acc = op ? Math.max(acc, e) : acc + e;
      }
      mem.f32(y + r * 4, 1)[0] = op && nan ? Number.NaN : acc;
    }
  }),
  rms_norm_rows: perRow('rms_norm_rows', (mem, [x, w, y, rstd, cols, eps], cfg) => {
    const wv = mem.f32(w, cols);
    for (let r = 0; r < cfg.grid[0]; r++) {
      const row = mem.f32(x + r * cols * 4, cols);
      const rs = 1 / Math.sqrt(row.reduce((s, e) => s + e * e, 0) / cols + eps);
      const out = mem.f32(y + r * cols * 4, cols);
      for (let j = 0; j < cols; j++) out[j] = row[j] * rs * wv[j];
      mem.f32(rstd + r * 4, 1)[0] = rs;
    }
  }),
  layer_norm_rows: perRow('layer_norm_rows', (mem, [x, w, b, y, mean, rstd, cols, eps], cfg) => {
    const [wv, bv] = [mem.f32(w, cols), mem.f32(b, cols)];
    for (let r = 0; r < cfg.grid[0]; r++) {
      const row = mem.f32(x + r * cols * 4, cols);
      const mu = row.reduce((s, e) => s + e, 0) / cols;
      const rs = 1 / Math.sqrt(row.reduce((s, e) => s + (e - mu) ** 2, 0) / cols + eps);
      const out = mem.f32(y + r * cols * 4, cols);
      for (let j = 0; j < cols; j++) out[j] = (row[j] - mu) * rs * wv[j] + bv[j];
      mem.f32(mean + r * 4, 1)[0] = mu;
      mem.f32(rstd + r * 4, 1)[0] = rs;
    }
  }),
  layer_norm_bwd_rows: perRow('layer_norm_bwd_rows', (mem, [dy, x, w, mean, rstd, dx, cols], cfg) => {
    const wv = mem.f32(w, cols);
    for (let r = 0; r < cfg.grid[0]; r++) {
      const [g, xr, out] = [dy, x, dx].map((p) => mem.f32(p + r * cols * 4, cols));
      const mu = mem.f32(mean + r * 4, 1)[0];
      const rs = mem.f32(rstd + r * 4, 1)[0];
      let s1 = 0;
      let s2 = 0;
      for (let j = 0; j < cols; j++) {
        s1 += g[j] * wv[j];
        s2 += g[j] * wv[j] * (xr[j] - mu) * rs;
      }
      for (let j = 0; j < cols; j++)
        out[j] = rs * (g[j] * wv[j] - s1 / cols - (xr[j] - mu) * rs * (s2 / cols));
    }
  }),
  rms_norm_bwd_rows: perRow('rms_norm_bwd_rows', (mem, [dy, x, w, rstd, dx, cols], cfg) => {
    const wv = mem.f32(w, cols);
    for (let r = 0; r < cfg.grid[0]; r++) {
      const [g, xr, out] = [dy, x, dx].map((p) => mem.f32(p + r * cols * 4, cols));
      const rs = mem.f32(rstd + r * 4, 1)[0];
      let s = 0;
      for (let j = 0; j < cols; j++) s += g[j] * wv[j] * xr[j];
      const c = (rs * rs * rs * s) / cols;
      for (let j = 0; j < cols; j++) out[j] = rs * g[j] * wv[j] - xr[j] * c;
    }
  }),
  norm_bwd_partials: (mem, [dy, x, mean, rstd, pw, pb, rows, cols, chunk], cfg) => {
    if (cfg.block[0] !== 32 || cfg.block[1] !== 8) throw new Error('norm_bwd_partials: block must be 32 x 8');
    const [g, xv] = [mem.f32(dy, rows * cols), mem.f32(x, rows * cols)];
    const [mu, rs] = [mean ? mem.f32(mean, rows) : undefined, mem.f32(rstd, rows)];
    for (let by = 0; by < cfg.grid[1]; by++)
      for (let bx = 0; bx < cfg.grid[0]; bx++)
        for (let tx = 0; tx < 32; tx++) {
          const j = bx * 32 + tx;
          if (j >= cols) continue;
          let aw = 0;
          let ab = 0;
          for (let r = by * chunk; r < Math.min(by * chunk + chunk, rows); r++) {
            aw += g[r * cols + j] * (xv[r * cols + j] - (mu ? mu[r] : 0)) * rs[r];
            ab += g[r * cols + j];
          }
          mem.f32(pw + (by * cols + j) * 4, 1)[0] = aw;
          if (pb) mem.f32(pb + (by * cols + j) * 4, 1)[0] = ab;
        }
  },
  sum_cols: (mem, [part, y, chunks, cols]) => {
    const out = mem.f32(y, cols);
    const p = mem.f32(part, chunks * cols);
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let c = 0; c < chunks; c++) s += p[c * cols + j];
      out[j] = s;
    }
  },
  argmax_axis: (mem, [x, y, outer, n, inner]) => {
    const out = mem.i32(y, outer * inner);
    const xv = mem.f32(x, outer * n * inner);
    for (let i = 0; i < outer * inner; i++) {
      const base = Math.floor(i / inner) * n * inner + (i % inner);
      let best = 0;
      let bv = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < n; k++)
        if (xv[base + k * inner] > bv) {
          bv = xv[base + k * inner];
          best = k;
        }
      out[i] = best;
    }
  },
  gather_rows_f32: perRow('gather_rows_f32', (mem, [x, idx, y, rows, cols, bad], cfg) => {
    const ids = mem.i32(idx, cfg.grid[0]);
    for (let b = 0; b < cfg.grid[0]; b++) {
      const r = ids[b];
      if (r < 0 || r >= rows) mem.i32(bad, 1)[0] = 1;
      else mem.f32(y + b * cols * 4, cols).set(mem.f32(x + r * cols * 4, cols));
    }
  }),
  scatter_add_rows_f32: perRow('scatter_add_rows_f32', (mem, [src, idx, y, rows, cols, bad], cfg) => {
    const ids = mem.i32(idx, cfg.grid[0]);
    for (let b = 0; b < cfg.grid[0]; b++) {
      const r = ids[b];
      if (r < 0 || r >= rows) {
        mem.i32(bad, 1)[0] = 1;
        continue;
      }
      const out = mem.f32(y + r * cols * 4, cols);
      const s = mem.f32(src + b * cols * 4, cols);
      for (let j = 0; j < cols; j++) out[j] += s[j];
    }
  }),
  gemm_f32: (mem, [A, B, C, M, N, K, transA, transB, strideA, strideB], cfg) => {
    if (cfg.block[0] !== 256) throw new Error('gemm_f32: 256 threads per block');
    for (let b = 0; b < cfg.grid[2]; b++) {
      const a = mem.f32(A + b * strideA * 4, M * K);
      const bb = mem.f32(B + b * strideB * 4, K * N);
      const c = mem.f32(C + b * M * N * 4, M * N);
      for (let by = 0; by < cfg.grid[1]; by++)
        for (let bx = 0; bx < cfg.grid[0]; bx++)
          for (let m = by * 64; m < Math.min(by * 64 + 64, M); m++)
            for (let n = bx * 64; n < Math.min(bx * 64 + 64, N); n++) {
              let s = 0;
              for (let k = 0; k < K; k++)
                s += (transA ? a[k * M + m] : a[m * K + k]) * (transB ? bb[n * K + k] : bb[k * N + n]);
              c[m * N + n] = s;
            }
    }
  },
};
