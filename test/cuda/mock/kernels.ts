/**
 * Host versions of the plan kernels and the attention forward kernels for the mock driver. They
 * follow the CUDA grid mapping (block -> tile -> segment) so a launch that covers too few tiles,
 * or reads the wrong offsets, gives wrong output here too.
 */
import { fromBf16Bits, toBf16Bits } from '../../../src/backends/cuda/bf16.js';
import type { MockKernel, MockMemory } from './driver.js';

function segmentOf(offsets: Int32Array, S: number, p: number): number {
  let lo = 0;
  let hi = S;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid] <= p) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** One query row of one head in float64: writes o row and lse. */
function attendRow(
  read: (p: number, n: number, row: number, h: number) => Float64Array,
  a: { q: number; k: number; v: number; D: number; scale: number },
  g: number,
  h: number,
  kv: Int32Array,
): { o: Float64Array; lse: number } {
  const { D } = a;
  const q = read(a.q, D, g, h);
  const sc = Array.from(kv, (j) => {
    const k = read(a.k, D, j, h);
    let s = 0;
    for (let e = 0; e < D; e++) s += q[e] * k[e];
    return s * a.scale;
  });
  const m = Math.max(...sc);
  const o = new Float64Array(D);
  let l = 0;
  kv.forEach((j, t) => {
    const w = Math.exp(sc[t] - m);
    l += w;
    const v = read(a.v, D, j, h);
    for (let e = 0; e < D; e++) o[e] += w * v[e];
  });
  if (kv.length) for (let e = 0; e < D; e++) o[e] /= l;
  return { o, lse: kv.length ? m + Math.log(l) : Number.NEGATIVE_INFINITY };
}

const planArrays = (mem: MockMemory, qi: number, qo: number, ki: number, ko: number, S: number) => {
  const qOffsets = mem.i32(qo, S + 1);
  const kvOffsets = mem.i32(ko, S + 1);
  return { qOffsets, kvOffsets, qIndex: mem.i32(qi, qOffsets[S]), kvIndex: mem.i32(ki, kvOffsets[S]) };
};

export const MOCK_KERNELS: Record<string, MockKernel> = {
  cast_f32_bf16: (mem, [x, y, n]) => mem.u16(y, n).set(toBf16Bits(mem.f32(x, n))),
  cast_bf16_f32: (mem, [x, y, n]) => mem.f32(y, n).set(fromBf16Bits(mem.u16(x, n))),
  route_argmax: (mem, [logits, groups, n, m]) => {
    const x = mem.f32(logits, n * m);
    const g = mem.i32(groups, n);
    for (let i = 0; i < n; i++) {
      let b = 0;
      for (let j = 1; j < m; j++) if (x[i * m + j] > x[i * m + b]) b = j;
      g[i] = b;
    }
  },
  group_count: (mem, [groups, counts, n, m]) => {
    const g = mem.i32(groups, n);
    const c = mem.i32(counts, m + 1);
    for (let i = 0; i < n; i++) c[g[i] >= 0 && g[i] < m ? g[i] : m]++;
  },
  scan_tiles: (mem, [inp, out, S, rows, mode], cfg) => {
    if (cfg.block[0] !== 1024 || cfg.grid[0] !== 1)
      throw new Error('scan_tiles runs as one block of 1024 threads');
    const x = mem.i32(inp, S + 1);
    const y = mem.i32(out, S + 1);
    y[0] = 0;
    for (let s = 0; s < S; s++) {
      const c = mode === 0 ? x[s] : x[s + 1] - x[s];
      y[s + 1] = y[s] + Math.ceil(c / rows);
    }
  },
  group_scatter: (mem, [groups, offsets, cursor, index, n, m]) => {
    const g = mem.i32(groups, n);
    const o = mem.i32(offsets, m + 1);
    const c = mem.i32(cursor, m);
    const idx = mem.i32(index, n);
    for (let i = 0; i < n; i++) if (g[i] >= 0 && g[i] < m) idx[o[g[i]] + c[g[i]]++] = i;
  },
  attn_fwd_f32: (mem, [q, k, v, o, lse, qi, qo, ki, ko, S, H, D, scale], cfg) => {
    const p = planArrays(mem, qi, qo, ki, ko, S);
    const warps = cfg.block[0] / 32;
    const read = (base: number, n: number, row: number, h: number) =>
      Float64Array.from(mem.f32(base + (row * H + h) * D * 4, n));
    for (let bx = 0; bx < cfg.grid[0]; bx++)
      for (let w = 0; w < warps; w++) {
        const pos = bx * warps + w;
        if (pos >= p.qOffsets[S]) continue;
        const s = segmentOf(p.qOffsets, S, pos);
        const g = p.qIndex[pos];
        for (let h = 0; h < cfg.grid[1]; h++) {
          const r = attendRow(
            read,
            { q, k, v, D, scale },
            g,
            h,
            p.kvIndex.subarray(p.kvOffsets[s], p.kvOffsets[s + 1]),
          );
          mem.f32(o + (g * H + h) * D * 4, D).set(r.o);
          mem.f32(lse + (g * H + h) * 4, 1)[0] = r.lse;
        }
      }
  },
  // attn_fwd_bf16_w{W}_d{D}: block (tile, head) owns 16*W query rows of the tile's segment
  'attn_fwd_bf16_*': (mem, [q, k, v, o, lse, qi, qo, ki, ko, tiles, S, H, scaleLog2], cfg) => {
    const rows = cfg.block[0] / 2; // 16 rows per warp of 32 threads
    const D = cfg.shared / 2 / (rows + 128); // shared = (rows + 2*64) * D * 2
    const p = planArrays(mem, qi, qo, ki, ko, S);
    const t = mem.i32(tiles, S + 1);
    const read = (base: number, n: number, row: number, h: number) =>
      Float64Array.from(fromBf16Bits(mem.u16(base + (row * H + h) * D * 2, n)));
    for (let tile = 0; tile < cfg.grid[0]; tile++) {
      if (tile >= t[S]) continue;
      const s = segmentOf(t, S, tile);
      const q0 = p.qOffsets[s] + (tile - t[s]) * rows;
      const qlen = Math.min(rows, p.qOffsets[s + 1] - q0);
      for (let h = 0; h < cfg.grid[1]; h++)
        for (let r = 0; r < qlen; r++) {
          const g = p.qIndex[q0 + r];
          const res = attendRow(
            read,
            { q, k, v, D, scale: scaleLog2 / Math.LOG2E },
            g,
            h,
            p.kvIndex.subarray(p.kvOffsets[s], p.kvOffsets[s + 1]),
          );
          mem.u16(o + (g * H + h) * D * 2, D).set(toBf16Bits(Float32Array.from(res.o)));
          mem.f32(lse + (g * H + h) * 4, 1)[0] = res.lse;
        }
    }
  },
};
