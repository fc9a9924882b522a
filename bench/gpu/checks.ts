/**
 * Every CUDA kernel against a CPU reference on fresh random inputs: relative L2 error within
 * 1e-2 for bf16 paths and 1e-4 for fp32, NaN fails, unwritten/unplanned rows must be zero.
 */

import { plans } from '../../src/attention/plans.js';
import type { TensorRef } from '../../src/backends/backend.js';
import { type AttnDType, attentionBackward, attentionForward } from '../../src/backends/cuda/attention.js';
import { createCudaBackend } from '../../src/backends/cuda/backend.js';
import type { DevPtr } from '../../src/backends/cuda/driver-types.js';
import { type CudaContext, grid1d } from '../../src/backends/cuda/kernels.js';
import { gemmPath } from '../../src/backends/cuda/ops.js';
import {
  buildPlanOnGpu,
  downloadPlan,
  freePlan,
  groupPlanOnGpu,
  uploadPlan,
} from '../../src/backends/cuda/plan.js';
import { REF_KERNELS } from '../../src/backends/ref/kernels/index.js';
import type { RefKernel } from '../../src/backends/ref/view.js';
import {
  BINARY_OPS,
  type ConvParams,
  type OpName,
  type OpParams,
  UNARY_OPS,
} from '../../src/core/op-spec.js';
import { sizeOf } from '../../src/core/shape.js';
import {
  type Dims,
  fromBf16,
  makeRandom,
  randomPlan,
  refBackward,
  refForward,
  relL2,
  roundBf16,
  toBf16,
  uniform,
} from './reference.js';

export interface Check {
  name: string;
  err: number;
  tol: number;
  pass: boolean;
}

type Arr = Float32Array | Int32Array | Uint16Array;
const up = (ctx: CudaContext, a: Arr): DevPtr => {
  const p = ctx.temp(Math.max(4, a.byteLength));
  ctx.driver.upload(p, a);
  return p;
};
const down = <T extends Arr>(ctx: CudaContext, p: DevPtr, a: T): T => {
  ctx.driver.download(a, p);
  return a;
};

export function runChecks(ctx: CudaContext, seed: number, log: (s: string) => void): Check[] {
  const rand = makeRandom(seed);
  const out: Check[] = [];
  const add = (name: string, err: number, tol: number) => {
    const c = { name, err, tol, pass: err <= tol };
    out.push(c);
    log(
      `${c.pass ? 'PASS' : 'FAIL'}  ${name.padEnd(48)} rel.L2 ${err.toExponential(2)} (tol ${tol.toExponential(0)})`,
    );
  };
  const guard = (name: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      add(`${name}: ${(e as Error).message}`, Number.POSITIVE_INFINITY, 0);
    }
  };

  const irregular: [number, number][] = [
    [70, 90],
    [1, 1],
    [0, 5],
    [12, 0],
    [64, 64],
    [65, 130],
    [30, 7],
    [3, 200],
  ];
  const attention = (
    dtype: AttnDType,
    d: number,
    warps: 4 | 8,
    sizes: [number, number][],
    qScale: number,
    bwd: boolean,
  ) => {
    const s: Dims = { nq: 300, nk: 260, h: 2, d };
    if (sizes.length === 1) {
      s.nq = sizes[0][0];
      s.nk = sizes[0][1];
    }
    const plan = randomPlan(rand, s.nq, s.nk, sizes);
    const bf = dtype === 'bfloat16';
    const gen = (n: number, sc: number) => (bf ? roundBf16(uniform(rand, n, sc)) : uniform(rand, n, sc));
    const q = gen(s.nq * s.h * d, qScale);
    const k = gen(s.nk * s.h * d, 1);
    const v = gen(s.nk * s.h * d, 1);
    const dO = gen(s.nq * s.h * d, 1);
    const put = (a: Float32Array) => up(ctx, bf ? toBf16(a) : a);
    const shape = { nq: s.nq, nk: s.nk, heads: s.h, dim: d, dtype };
    const dp = uploadPlan(ctx, plan, s.nq, s.nk);
    const t = {
      q: put(q),
      k: put(k),
      v: put(v),
      o: ctx.temp(s.nq * s.h * d * 4),
      lse: ctx.temp(s.nq * s.h * 4),
    };
    ctx.driver.memset(t.o, 0xff, s.nq * s.h * d * 4); // poison: every element must be written
    attentionForward(ctx, shape, t, dp, { warps });
    ctx.driver.sync();
    const n = s.nq * s.h * d;
    const o = bf ? fromBf16(down(ctx, t.o, new Uint16Array(n))) : down(ctx, t.o, new Float32Array(n));
    const lse = down(ctx, t.lse, new Float32Array(s.nq * s.h));
    const ref = refForward(q, k, v, s, plan);
    const tol = bf ? 1e-2 : 1e-4;
    const tag = `${dtype} d${d}${bf ? ` w${warps}` : ''} S=${sizes.length}`;
    add(`attention fwd o   ${tag}`, relL2(o, ref.o), tol);
    const finite = (i: number) => Number.isFinite(ref.lse[i]);
    const infOk = Array.from(ref.lse).every((x, i) => Number.isFinite(x) || lse[i] === x);
    add(`attention fwd lse ${tag}`, infOk ? relL2(lse, ref.lse, finite) : Number.POSITIVE_INFINITY, tol);
    if (bwd) {
      const g = {
        ...t,
        dO: put(dO),
        dq: ctx.temp(n * 4),
        dk: ctx.temp(s.nk * s.h * d * 4),
        dv: ctx.temp(s.nk * s.h * d * 4),
      };
      attentionBackward(ctx, shape, g, dp);
      ctx.driver.sync();
      const rb = refBackward(q, k, v, dO, s, plan);
      add(`attention bwd dq  ${tag}`, relL2(down(ctx, g.dq, new Float32Array(n)), rb.dq), tol);
      add(`attention bwd dk  ${tag}`, relL2(down(ctx, g.dk, new Float32Array(s.nk * s.h * d)), rb.dk), tol);
      add(`attention bwd dv  ${tag}`, relL2(down(ctx, g.dv, new Float32Array(s.nk * s.h * d)), rb.dv), tol);
      for (const p of [g.dO, g.dq, g.dk, g.dv]) ctx.release(p);
    }
    for (const p of Object.values(t)) ctx.release(p);
    freePlan(ctx, dp);
  };
  guard('attention bf16 d128 w4', () => attention('bfloat16', 128, 4, irregular, 1, true));
  guard('attention bf16 d128 w8', () => attention('bfloat16', 128, 8, irregular, 1, false));
  guard('attention bf16 d64 w4', () => attention('bfloat16', 64, 4, irregular, 1, true));
  guard('attention bf16 d64 w8', () => attention('bfloat16', 64, 8, irregular, 1, false));
  guard('attention bf16 d128 one segment', () => attention('bfloat16', 128, 4, [[700, 1100]], 4, true));
  guard('attention f32 d128', () => attention('float32', 128, 4, irregular, 1, true));
  guard('attention f32 d40', () => attention('float32', 40, 4, irregular, 2, true));

  guard('plan', () => {
    const n = 20000;
    const m = 7;
    const logits = uniform(rand, n * m);
    const dl = up(ctx, logits);
    const plan = buildPlanOnGpu(ctx, dl, n, m);
    const got = downloadPlan(ctx, plan);
    const groups: number[][] = Array.from({ length: m }, () => []);
    for (let i = 0; i < n; i++) {
      let b = 0;
      for (let j = 1; j < m; j++) if (logits[i * m + j] > logits[i * m + b]) b = j;
      groups[b].push(i);
    }
    let bad = 0;
    groups.forEach((g, j) => {
      if (got.qOffsets[j + 1] - got.qOffsets[j] !== g.length) bad++;
      const mine = Array.from(got.qIndex.subarray(got.qOffsets[j], got.qOffsets[j + 1])).sort(
        (a, b) => a - b,
      );
      if (mine.some((x, i) => x !== g[i])) bad++;
    });
    add('plan: argmax + counting sort (mismatched groups)', bad, 0);
    freePlan(ctx, plan);
    ctx.release(dl);
  });

  // the DiT's routed plans: segment keys (sample, shot, group) on the device -> plan, some segments empty
  const routedKeys = (n: number, segments: number) =>
    Int32Array.from({ length: n }, () => Math.floor(rand() * (segments - 2)));
  guard('plan from keys', () => {
    const [n, segments] = [20000, 14];
    const keys = routedKeys(n, segments);
    const dk = up(ctx, keys);
    const plan = groupPlanOnGpu(ctx, dk, n, segments);
    const got = downloadPlan(ctx, plan);
    const want = plans.routed(keys, segments);
    let bad = 0;
    for (let s = 0; s < segments; s++) {
      if (got.qOffsets[s + 1] !== want.qOffsets[s + 1]) bad++;
      const mine = Array.from(got.qIndex.subarray(got.qOffsets[s], got.qOffsets[s + 1])).sort(
        (a, b) => a - b,
      );
      if (mine.some((x, i) => x !== want.qIndex[want.qOffsets[s] + i])) bad++;
    }
    add('plan: counting sort of int32 keys (mismatched segments)', bad, 0);
    freePlan(ctx, plan);
    ctx.release(dk);
  });

  // Backend ops against the reference kernels (fp32).
  const bf16Backend = createCudaBackend(ctx);
  const exactBackend = createCudaBackend(ctx, { attention: 'float32' });
  const opCheck = <K extends OpName>(
    op: K,
    ins: { data: Float32Array | Int32Array; shape: number[] }[],
    outShapes: [number[], 'float32' | 'int32'][],
    p: OpParams[K],
    tol = 1e-4,
    be = exactBackend,
    label = '',
  ) => {
    guard(`op ${op}`, () => {
      const refs: TensorRef[] = ins.map((x) => {
        const st = be.alloc(x.data instanceof Int32Array ? 'int32' : 'float32', x.data.length);
        be.write(st, x.data);
        return { storage: st, shape: x.shape, dtype: x.data instanceof Int32Array ? 'int32' : 'float32' };
      });
      const outs: TensorRef[] = outShapes.map(([shape, dtype]) => ({
        storage: be.alloc(dtype, sizeOf(shape)),
        shape,
        dtype,
      }));
      const before = be.fallbacks.get(op) ?? 0;
      be.run(op, refs, outs, p);
      const views = outShapes.map(([shape, dtype]) => ({
        data: dtype === 'int32' ? new Int32Array(sizeOf(shape)) : new Float32Array(sizeOf(shape)),
        shape,
      }));
      (REF_KERNELS[op] as RefKernel<K>)(ins, views, p);
      let err = 0;
      outs.forEach((t, i) => {
        err = Math.max(err, relL2(be.readSync(t.storage, t.dtype, sizeOf(t.shape)), views[i].data));
      });
      const fell = (be.fallbacks.get(op) ?? 0) > before ? ' (ref fallback)' : '';
      add(`op ${op}${label} ${ins.map((x) => `[${x.shape}]`).join('')}${fell}`, err, tol);
      for (const t of [...refs, ...outs]) be.free(t.storage);
    });
  };
  const F = (shape: number[], sc = 1, off = 0) => ({
    data: uniform(rand, sizeOf(shape), sc).map((x) => x + off),
    shape,
  });
  for (const op of UNARY_OPS)
    opCheck(
      op,
      [F([37, 129], 2, op === 'log' || op === 'sqrt' || op === 'rsqrt' ? 2.5 : 0)],
      [[[37, 129], 'float32']],
      {},
    );
  for (const op of BINARY_OPS)
    opCheck(
      op,
      [F([4, 1, 33], 1, op === 'pow' ? 2 : 0), F([3, 1], 1, op === 'pow' ? 0 : 0)],
      [[[4, 3, 33], 'float32']],
      {},
    );
  opCheck('where', [F([5, 1]), F([5, 6]), F([6])], [[[5, 6], 'float32']], {});
  opCheck('sum', [F([6, 7, 300])], [[[6], 'float32']], { axes: [1, 2], keepDims: false });
  opCheck('max', [F([9, 1000])], [[[9, 1], 'float32']], { axes: [1], keepDims: true });
  opCheck(
    'rmsNorm',
    [F([50, 96]), F([96])],
    [
      [[50, 96], 'float32'],
      [[50], 'float32'],
    ],
    { eps: 1e-6 },
  );
  opCheck(
    'layerNorm',
    [F([50, 96], 1, 3), F([96]), F([96])],
    [
      [[50, 96], 'float32'],
      [[50], 'float32'],
      [[50], 'float32'],
    ],
    { eps: 1e-5 },
  );
  const idx = { data: Int32Array.from({ length: 40 }, () => Math.floor(rand() * 30)), shape: [40] };
  opCheck('gatherRows', [F([30, 3, 5]), idx], [[[40, 3, 5], 'float32']], {});
  opCheck('scatterAddRows', [F([40, 15]), idx], [[[30, 15], 'float32']], { rows: 30 });
  opCheck('reshape', [F([4, 6])], [[[6, 4], 'float32']], { shape: [6, 4] });
  opCheck('permute', [F([4, 6, 2])], [[[2, 4, 6], 'float32']], { perm: [2, 0, 1] });
  // what else a DiT step runs: the movement ops (movement.cu's one strided copy), the casts,
  // argmax, reductions over leading axes (a copy, then reduce_rows) and the norms' backward
  const I = (shape: number[], values: number[]) => ({ data: Int32Array.from(values), shape });
  opCheck(
    'permute',
    [F([16, 3, 1, 2, 2, 2, 2])],
    [[[3, 2, 2, 16, 1, 2, 2], 'float32']],
    {
      perm: [1, 3, 5, 0, 2, 4, 6],
    },
    0,
  );
  opCheck('slice', [F([7, 20, 33])], [[[5, 17, 17], 'float32']], { starts: [1, 3, 0], ends: [6, 20, 17] }, 0);
  opCheck('broadcastTo', [F([17, 1])], [[[3, 17, 129], 'float32']], { shape: [3, 17, 129] }, 0);
  opCheck('concat', [F([5, 64]), F([4, 64]), F([0, 64])], [[[9, 64], 'float32']], { axis: 0 }, 0);
  opCheck('concat', [F([12, 4, 8, 1]), F([12, 4, 8, 1])], [[[12, 4, 8, 2], 'float32']], { axis: 3 }, 0);
  opCheck(
    'pad',
    [F([16, 2, 4, 4])],
    [[[16, 3, 4, 9], 'float32']],
    {
      pads: [
        [0, 0],
        [1, 0],
        [0, 0],
        [2, 3],
      ],
      value: 0.5,
    },
    0,
  );
  const ids = I(
    [3, 5],
    Array.from({ length: 15 }, (_, i) => i * 7 - 30),
  );
  opCheck(
    'pad',
    [ids],
    [[[5, 7], 'int32']],
    {
      pads: [
        [1, 1],
        [0, 2],
      ],
      value: -1,
    },
    0,
  );
  const edge = [0, -0, 1.9, -1.9, 2.5, -2.5, 3e9, -3e9, 2 ** 40 + 3 * 2 ** 20, 2 ** 60, 1e38, -1e38];
  const toInt = { data: Float32Array.from([...edge, Number.NaN, Infinity, -Infinity]), shape: [15] };
  opCheck('cast', [toInt], [[[15], 'int32']], { dtype: 'int32' }, 0);
  opCheck(
    'cast',
    [I([5], [2 ** 31 - 1, -(2 ** 31), 2 ** 24 + 1, 2 ** 24 + 3, 7])],
    [[[5], 'float32']],
    {
      dtype: 'float32',
    },
    0,
  );
  // int32 arithmetic and where (binary_i32, compare_i32, where_32): exact, wrap and edges included
  const Iw = (shape: number[]) =>
    I(
      shape,
      Array.from(uniform(rand, sizeOf(shape)), (x) => Math.round(x * 2 ** 31) | 0),
    );
  const iEdge = [0, 1, -1, 7, -7, 46341, -46341, 2 ** 31 - 1, -(2 ** 31), 123456789];
  const n = iEdge.length;
  const edgeA = I(
    [n, n],
    Array.from({ length: n * n }, (_, i) => iEdge[Math.floor(i / n)]),
  );
  for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'greater', 'equal'] as const) {
    const dt = op === 'greater' || op === 'equal' ? 'float32' : 'int32';
    opCheck(op, [Iw([4, 1, 33]), Iw([3, 1])], [[[4, 3, 33], dt]], {}, 0, exactBackend, ' int32');
    opCheck(op, [edgeA, I([n], iEdge)], [[[n, n], dt]], {}, 0, exactBackend, ' int32 edges');
  }
  const small = I([5, 1], [0, 1, -1, 0, 2]);
  opCheck('where', [small, Iw([5, 6]), Iw([6])], [[[5, 6], 'int32']], {}, 0, exactBackend, ' int32');
  opCheck(
    'where',
    [F([5, 1]), Iw([5, 6]), Iw([6])],
    [[[5, 6], 'int32']],
    {},
    0,
    exactBackend,
    ' int32 values',
  );
  opCheck('where', [small, F([5, 6]), F([6])], [[[5, 6], 'float32']], {}, 0, exactBackend, ' int32 cond');
  opCheck('argmax', [F([577, 5])], [[[577], 'int32']], { axis: 1 }, 0);
  opCheck('argmax', [F([3, 17, 5])], [[[3, 5], 'int32']], { axis: 1 }, 0);
  opCheck('sum', [F([300, 64])], [[[1, 64], 'float32']], { axes: [0], keepDims: true });
  opCheck('sum', [F([2, 12, 64])], [[[2, 1, 64], 'float32']], { axes: [1], keepDims: true });
  opCheck('max', [F([5, 7, 9])], [[[7], 'float32']], { axes: [0, 2], keepDims: false });
  for (const [norm, rows, d] of [
    ['layerNorm', 1000, 96],
    ['rmsNorm', 1000, 96],
    ['layerNorm', 7, 33],
  ] as const) {
    const [x, w, b, dy] = [F([rows, d], 1, 1), F([d]), F([d]), F([rows, d])];
    const st = () => ({ data: new Float32Array(rows), shape: [rows] });
    const [y, mean, rstd] = [{ data: new Float32Array(rows * d), shape: [rows, d] }, st(), st()];
    const grads: [number[], 'float32'][] = [
      [[rows, d], 'float32'],
      [[d], 'float32'],
      [[d], 'float32'],
    ];
    if (norm === 'layerNorm') {
      REF_KERNELS.layerNorm([x, w, b], [y, mean, rstd], { eps: 1e-5 });
      opCheck('layerNormBackward', [dy, x, w, mean, rstd], grads, {});
    } else {
      REF_KERNELS.rmsNorm([x, w], [y, rstd], { eps: 1e-5 });
      opCheck('rmsNormBackward', [dy, x, w, rstd], grads.slice(0, 2), {});
    }
  }
  // the attention primitive ops (fp32 tensors): bf16 tensor cores by default, exact fp32 on request
  {
    const [nq, nk, h] = [300, 260, 2];
    const hp = randomPlan(rand, nq, nk, irregular);
    for (const d of [128, 64, 40]) {
      const p = { ...hp, scale: 0.7 / Math.sqrt(d) };
      const ins = [F([nq, h, d], 2), F([nk, h, d]), F([nk, h, d])];
      const outs: [number[], 'float32'][] = [
        [[nq, h, d], 'float32'],
        [[nq, h], 'float32'],
      ];
      const grads: [number[], 'float32'][] = [
        [[nq, h, d], 'float32'],
        [[nk, h, d], 'float32'],
        [[nk, h, d], 'float32'],
      ];
      const fwd = REF_KERNELS.groupedAttention;
      const o = { data: new Float32Array(nq * h * d), shape: [nq, h, d] };
      const l = { data: new Float32Array(nq * h), shape: [nq, h] };
      fwd(ins, [o, l], p);
      const bwdIns = [F([nq, h, d]), ...ins, o, l];
      for (const [be, tol, label] of [
        [bf16Backend, 1e-2, ' (bf16)'],
        [exactBackend, 1e-4, ' (fp32)'],
      ] as const) {
        if (d === 40 && be === bf16Backend) continue; // d=40 has no tensor-core kernel: same fp32 path
        opCheck('groupedAttention', ins, outs, p, tol, be, `${label} d${d}`);
        opCheck('groupedAttentionBackward', bwdIns, grads, p, tol, be, `${label} d${d}`);
      }
    }
  }
  // groupedAttention through a plan the backend built from keys (Backend.routedPlan) vs the host plan
  for (const [be, tol, label] of [
    [bf16Backend, 1e-2, 'bf16'],
    [exactBackend, 1e-4, 'fp32'],
  ] as const)
    guard(`op groupedAttention on a routed plan (${label})`, () => {
      const [n, h, d, segments] = [3000, 2, 64, 10];
      const keys = routedKeys(n, segments);
      const ins = [F([n, h, d], 2), F([n, h, d]), F([n, h, d])];
      const want = [new Float32Array(n * h * d), new Float32Array(n * h)];
      const scale = 1 / Math.sqrt(d);
      REF_KERNELS.groupedAttention(
        ins,
        [
          { data: want[0], shape: [n, h, d] },
          { data: want[1], shape: [n, h] },
        ],
        { ...plans.routed(keys, segments), scale },
      );
      const t = (data: Float32Array | Int32Array, shape: number[]): TensorRef => {
        const dtype = data instanceof Int32Array ? 'int32' : 'float32';
        const storage = be.alloc(dtype, data.length);
        be.write(storage, data);
        return { storage, shape, dtype };
      };
      const kt = t(keys, [n]);
      const handle = be.routedPlan!(kt, segments);
      const outs = [t(new Float32Array(n * h * d), [n, h, d]), t(new Float32Array(n * h), [n, h])];
      const insT = ins.map((x) => t(x.data, x.shape));
      be.run('groupedAttention', insT, outs, { ...handle, scale });
      add(
        `op groupedAttention routed plan (${label}) o`,
        relL2(be.readSync(outs[0].storage, 'float32', n * h * d), want[0]),
        tol,
      );
      add(
        `op groupedAttention routed plan (${label}) lse`,
        relL2(be.readSync(outs[1].storage, 'float32', n * h), want[1]),
        tol,
      );
      for (const x of [kt, ...insT, ...outs]) be.free(x.storage);
      add(`routed plan freed with its tensors (${label}: bytes left)`, be.liveBytes(), 0);
    });
  guard('gemm_f32 kernel', () => {
    const [m, n, k] = [65, 90, 70];
    const a = uniform(rand, m * k),
      b = uniform(rand, k * n);
    const pa = up(ctx, a),
      pb = up(ctx, b),
      pc = ctx.temp(m * n * 4);
    ctx.launch('gemm', 'gemm_f32', { grid: [2, 2, 1], block: [256, 1, 1], shared: 0 }, [
      { ptr: pa },
      { ptr: pb },
      { ptr: pc },
      { i32: m },
      { i32: n },
      { i32: k },
      { i32: 0 },
      { i32: 0 },
      { i64: 0 },
      { i64: 0 },
    ]);
    const ref = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) ref[i * n + j] += a[i * k + t] * b[t * n + j];
    add('kernel gemm_f32 (own fallback GEMM)', relL2(down(ctx, pc, new Float32Array(m * n)), ref), 1e-5);
    for (const p of [pa, pb, pc]) ctx.release(p);
  });

  // Kernels without a primitive op: softmax, rotary, casts, random fill.
  guard('softmax/rotary/casts', () => {
    const rows = 20,
      cols = 333;
    const x = uniform(rand, rows * cols, 5);
    const px = up(ctx, x),
      py = ctx.temp(x.byteLength);
    ctx.launch('rows', 'softmax_rows', { grid: [rows, 1, 1], block: [256, 1, 1], shared: 0 }, [
      { ptr: px },
      { ptr: py },
      { i32: cols },
    ]);
    const y = down(ctx, py, new Float32Array(rows * cols));
    const ref = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = x.subarray(r * cols, (r + 1) * cols);
      const m = Math.max(...row);
      let s = 0;
      for (let j = 0; j < cols; j++) s += Math.exp(row[j] - m);
      for (let j = 0; j < cols; j++) ref[r * cols + j] = Math.exp(row[j] - m) / s;
    }
    add('kernel softmax_rows', relL2(y, ref), 1e-4);
    const n = 33,
      H = 3,
      D = 16;
    const xr = uniform(rand, n * H * D),
      cs = uniform(rand, (n * D) / 2),
      sn = uniform(rand, (n * D) / 2);
    const pr = up(ctx, xr),
      pc = up(ctx, cs),
      ps = up(ctx, sn),
      po = ctx.temp(xr.byteLength);
    ctx.launch('rows', 'rotary_f32', { grid: [n, 1, 1], block: [256, 1, 1], shared: 0 }, [
      { ptr: pr },
      { ptr: pc },
      { ptr: ps },
      { ptr: po },
      { i32: H },
      { i32: D },
    ]);
    const ro = down(ctx, po, new Float32Array(n * H * D));
    const rr = new Float64Array(n * H * D);
    for (let t = 0; t < n; t++)
      for (let h = 0; h < H; h++)
        for (let j = 0; j < D / 2; j++) {
          const o = (t * H + h) * D + 2 * j,
            c = cs[t * (D / 2) + j],
            s = sn[t * (D / 2) + j];
          rr[o] = xr[o] * c - xr[o + 1] * s;
          rr[o + 1] = xr[o] * s + xr[o + 1] * c;
        }
    add('kernel rotary_f32', relL2(ro, rr), 1e-5);
    const m = 1000;
    const a = uniform(rand, m, 3);
    const pa = up(ctx, a),
      pb = ctx.temp(m * 2),
      pf = ctx.temp(m * 4);
    ctx.launch('elementwise', 'cast_f32_bf16', grid1d(m), [{ ptr: pa }, { ptr: pb }, { i64: m }]);
    ctx.launch('elementwise', 'cast_bf16_f32', grid1d(m), [{ ptr: pb }, { ptr: pf }, { i64: m }]);
    const bits = down(ctx, pb, new Uint16Array(m));
    const host = toBf16(a);
    add(
      'kernel cast_f32_bf16 (bits differing)',
      bits.reduce((c, b, i) => c + (b !== host[i] ? 1 : 0), 0),
      0,
    );
    add('kernel cast_bf16_f32', relL2(down(ctx, pf, new Float32Array(m)), fromBf16(host)), 0);
    ctx.launch('elementwise', 'fill_uniform_f32', grid1d(m), [
      { ptr: pf },
      { i64: m },
      { i64: seed },
      { f32: 1 },
    ]);
    const fr = down(ctx, pf, new Float32Array(m));
    const mean = fr.reduce((s, x) => s + x, 0) / m;
    const bad = fr.some((x) => !(x >= -1 && x < 1)) || Math.abs(mean) > 0.1 || new Set(fr).size < m * 0.99;
    add('kernel fill_uniform_f32 (range, mean, distinct)', bad ? 1 : 0, 0);
    for (const p of [px, py, pr, pc, ps, po, pa, pb, pf]) ctx.release(p);
  });
  // last: the matmul op goes through cuBLASLt over the FFI when it is found (a bad binding would
  // crash the process, so everything else has been reported by now)
  log(`matmul op path: ${gemmPath(ctx)}`);
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])
    opCheck(
      'matmul',
      [F(ta ? [3, 70, 65] : [3, 65, 70]), F(tb ? [1, 90, 70] : [70, 90])],
      [[[3, 65, 90], 'float32']],
      { transA: ta, transB: tb },
    );
  opCheck('matmul', [F([2, 3, 129, 17]), F([17, 33])], [[[2, 3, 129, 33], 'float32']], {
    transA: false,
    transB: false,
  });
  // conv3d and its gradients (conv.ts: blocked im2col + the GEMM above, col2im as a gather), whole
  // batch items and in blocks of one or a few output rows (convColFloats shrunk), against the reference
  const convBlocked = createCudaBackend(ctx, { attention: 'float32', convColFloats: 1 << 14 });
  const pad = (t: [number, number], h: [number, number], w: [number, number]): [number, number][] => [
    t,
    h,
    w,
  ];
  const convCases: { xs: number[]; ws: number[]; p: ConvParams; out: number[]; blocked: boolean }[] = [
    {
      xs: [2, 16, 5, 20, 36],
      ws: [24, 16, 3, 3, 3],
      p: { stride: [1, 1, 1], padding: pad([2, 0], [1, 1], [1, 1]) },
      out: [2, 24, 5, 20, 36],
      blocked: true,
    },
    {
      xs: [1, 8, 9, 33, 47],
      ws: [16, 8, 3, 3, 3],
      p: { stride: [2, 2, 2], padding: pad([1, 1], [1, 1], [1, 1]) },
      out: [1, 16, 5, 17, 24],
      blocked: true,
    },
    {
      xs: [1, 64, 3, 30, 40],
      ws: [32, 64, 1, 1, 1],
      p: { stride: [1, 1, 1], padding: pad([0, 0], [0, 0], [0, 0]) },
      out: [1, 32, 3, 30, 40],
      blocked: true,
    },
    {
      xs: [1, 32, 3, 40, 72],
      ws: [32, 32, 3, 3, 3],
      p: { stride: [1, 1, 1], padding: pad([2, 0], [1, 1], [1, 1]) },
      out: [1, 32, 3, 40, 72],
      blocked: false,
    },
  ];
  for (const c of convCases)
    for (const [be, label] of c.blocked
      ? ([
          [exactBackend, ''],
          [convBlocked, ' blocked'],
        ] as const)
      : ([[exactBackend, '']] as const)) {
      opCheck('conv3d', [F(c.xs), F(c.ws, 0.3)], [[c.out, 'float32']], c.p, 1e-4, be, label);
      opCheck(
        'conv3dBackwardInput',
        [F(c.out), F(c.ws, 0.3)],
        [[c.xs, 'float32']],
        { ...c.p, inputShape: c.xs },
        1e-4,
        be,
        label,
      );
      opCheck(
        'conv3dBackwardWeight',
        [F(c.out), F(c.xs)],
        [[c.ws, 'float32']],
        { ...c.p, kernelShape: c.ws },
        1e-4,
        be,
        label,
      );
    }
  return out;
}
