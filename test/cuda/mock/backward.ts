/**
 * Host versions of the attention backward kernels for the mock driver (float64 math, the CUDA grid
 * mapping: positions per warp for fp32, tiles per block for bf16), so the op wiring (which buffer
 * goes where, casts, plan reuse) is testable without a GPU.
 */
import { fromBf16Bits } from '../../../src/backends/cuda/bf16.js';
import type { MockKernel, MockMemory } from './driver.js';

type Reader = (base: number, row: number, h: number) => Float64Array;

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

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i], 0);

function readers(mem: MockMemory, H: number, D: number, bf: boolean): Reader {
  return bf
    ? (base, row, h) => Float64Array.from(fromBf16Bits(mem.u16(base + (row * H + h) * D * 2, D)))
    : (base, row, h) => Float64Array.from(mem.f32(base + (row * H + h) * D * 4, D));
}

interface Args {
  q: number;
  k: number;
  v: number;
  dO: number;
  lse: number;
  delta: number;
  qi: Int32Array;
  qo: Int32Array;
  ki: Int32Array;
  ko: Int32Array;
  S: number;
  H: number;
  D: number;
  scale: number;
}

function plan(mem: MockMemory, qi: number, qo: number, ki: number, ko: number, S: number) {
  const qOff = mem.i32(qo, S + 1);
  const kOff = mem.i32(ko, S + 1);
  return { qo: qOff, ko: kOff, qi: mem.i32(qi, qOff[S]), ki: mem.i32(ki, kOff[S]) };
}

/** dq row of query g (plan position in segment s) added into dq. */
function dqRow(mem: MockMemory, a: Args, read: Reader, dq: number, s: number, g: number, h: number) {
  const q = read(a.q, g, h);
  const dO = read(a.dO, g, h);
  const L = mem.f32(a.lse + (g * a.H + h) * 4, 1)[0];
  const Dl = mem.f32(a.delta + (g * a.H + h) * 4, 1)[0];
  const out = mem.f32(dq + (g * a.H + h) * a.D * 4, a.D);
  for (let t = a.ko[s]; t < a.ko[s + 1]; t++) {
    const j = a.ki[t];
    const k = read(a.k, j, h);
    const p = Math.exp(dot(q, k) * a.scale - L);
    const ds = p * (dot(dO, read(a.v, j, h)) - Dl) * a.scale;
    for (let e = 0; e < a.D; e++) out[e] += ds * k[e];
  }
}

/** dk, dv rows of key j (plan position in segment s) added into dk, dv. */
function dkdvRow(
  mem: MockMemory,
  a: Args,
  read: Reader,
  dk: number,
  dv: number,
  s: number,
  j: number,
  h: number,
) {
  const k = read(a.k, j, h);
  const v = read(a.v, j, h);
  const ok = mem.f32(dk + (j * a.H + h) * a.D * 4, a.D);
  const ov = mem.f32(dv + (j * a.H + h) * a.D * 4, a.D);
  for (let t = a.qo[s]; t < a.qo[s + 1]; t++) {
    const g = a.qi[t];
    const q = read(a.q, g, h);
    const dO = read(a.dO, g, h);
    const p = Math.exp(dot(q, k) * a.scale - mem.f32(a.lse + (g * a.H + h) * 4, 1)[0]);
    const ds = p * (dot(dO, v) - mem.f32(a.delta + (g * a.H + h) * 4, 1)[0]) * a.scale;
    for (let e = 0; e < a.D; e++) {
      ok[e] += ds * q[e];
      ov[e] += p * dO[e];
    }
  }
}

const delta =
  (bf: boolean): MockKernel =>
  (mem, [dO, o, out, rows, D]) => {
    const r = (p: number, i: number) =>
      bf ? fromBf16Bits(mem.u16(p + i * D * 2, D)) : mem.f32(p + i * D * 4, D);
    const y = mem.f32(out, rows);
    for (let i = 0; i < rows; i++) y[i] = r(dO, i).reduce((s, x, e) => s + x * r(o, i)[e], 0);
  };

export const MOCK_BACKWARD_KERNELS: Record<string, MockKernel> = {
  attn_bwd_delta_f32: delta(false),
  attn_bwd_delta_bf16: delta(true),
  attn_bwd_dq_f32: (mem, [q, k, v, dO, lse, dl, dq, qi, qo, ki, ko, S, H, D, scale], cfg) => {
    const a: Args = { q, k, v, dO, lse, delta: dl, ...plan(mem, qi, qo, ki, ko, S), S, H, D, scale };
    const read = readers(mem, H, D, false);
    for (let pos = 0; pos < cfg.grid[0] * (cfg.block[0] / 32); pos++)
      if (pos < a.qo[S])
        for (let h = 0; h < cfg.grid[1]; h++) dqRow(mem, a, read, dq, segmentOf(a.qo, S, pos), a.qi[pos], h);
  },
  attn_bwd_dkdv_f32: (mem, [q, k, v, dO, lse, dl, dk, dv, qi, qo, ki, ko, S, H, D, scale], cfg) => {
    const a: Args = { q, k, v, dO, lse, delta: dl, ...plan(mem, qi, qo, ki, ko, S), S, H, D, scale };
    const read = readers(mem, H, D, false);
    for (let pos = 0; pos < cfg.grid[0] * (cfg.block[0] / 32); pos++)
      if (pos < a.ko[S])
        for (let h = 0; h < cfg.grid[1]; h++)
          dkdvRow(mem, a, read, dk, dv, segmentOf(a.ko, S, pos), a.ki[pos], h);
  },
  // bf16: a block owns 64 rows of one segment's tile (4 warps); D from the shared-memory size
  'attn_bwd_dq_bf16_*': (mem, [q, k, v, dO, lse, dl, dq, qi, qo, ki, ko, tiles, S, H, scale], cfg) => {
    const D = cfg.shared / 512;
    const a: Args = { q, k, v, dO, lse, delta: dl, ...plan(mem, qi, qo, ki, ko, S), S, H, D, scale };
    const t = mem.i32(tiles, S + 1);
    const read = readers(mem, H, D, true);
    for (let tile = 0; tile < Math.min(cfg.grid[0], t[S]); tile++) {
      const s = segmentOf(t, S, tile);
      const p0 = a.qo[s] + (tile - t[s]) * 64;
      for (let p = p0; p < Math.min(p0 + 64, a.qo[s + 1]); p++)
        for (let h = 0; h < cfg.grid[1]; h++) dqRow(mem, a, read, dq, s, a.qi[p], h);
    }
  },
  'attn_bwd_dkdv_bf16_*': (mem, [q, k, v, dO, lse, dl, dk, dv, qi, qo, ki, ko, tiles, S, H, scale], cfg) => {
    const D = (cfg.shared - 512) / 512;
    const a: Args = { q, k, v, dO, lse, delta: dl, ...plan(mem, qi, qo, ki, ko, S), S, H, D, scale };
    const t = mem.i32(tiles, S + 1);
    const read = readers(mem, H, D, true);
    for (let tile = 0; tile < Math.min(cfg.grid[0], t[S]); tile++) {
      const s = segmentOf(t, S, tile);
      const p0 = a.ko[s] + (tile - t[s]) * 64;
      for (let p = p0; p < Math.min(p0 + 64, a.ko[s + 1]); p++)
        for (let h = 0; h < cfg.grid[1]; h++) dkdvRow(mem, a, read, dk, dv, s, a.ki[p], h);
    }
  },
};
