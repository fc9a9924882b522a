/**
 * The conformance suite: every op and routine (matmul, norms, softmax, grouped attention, conv3d,
 * forward and backward) on every backend but `ref` against `ref`, on random inputs with odd sizes
 * (1, 3, 17, 129), broadcast shapes, empty operands and extreme values. Sizes are chosen so that
 * SIMD tails, GEMM edge tiles and the multi-thread split paths are all exercised. `ref` itself is
 * checked against float64 loops in ref-float64.test.ts.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { groupedAttention } from '../../src/attention/grouped-attention.js';
import type { AttentionPlan } from '../../src/attention/plan.js';
import { plans } from '../../src/attention/plans.js';
import { BINARY_OPS, UNARY_OPS } from '../../src/core/op-spec.js';
import { gradients } from '../../src/tensor/autodiff.js';
import * as o from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, type Tensor } from '../../src/tensor/tensor.js';
import { compareWithRef, forEachBackend, onBackend } from './conformance.js';
import { CONV_CASES, convProgram } from './conv-cases.js';

const SIZES = [1, 3, 17, 129];
const OPS = o as unknown as Record<string, (...xs: Tensor[]) => Tensor>;
const rn = (shape: number[], seed: number, std = 1) => new Rng(seed).normal(shape, std);
const pos = (shape: number[], seed: number) => new Rng(seed).uniform(shape, 0.1, 3);

/** Attention forward, then gradients of a weighted sum w.r.t. q, k, v (inputs of scale `std`). */
function attention(plan: AttentionPlan, nq: number, nk: number, H: number, D: number, std = 1.5) {
  return () => {
    const q = rn([nq, H, D], D, std);
    const k = rn([nk, H, D], D + 1, std);
    const v = rn([nk, H, D], D + 2);
    for (const t of [q, k, v]) t.requiresGrad = true;
    const out = groupedAttention(q, k, v, plan);
    const loss = o.sum(o.mul(out, rn([nq, H, D], D + 3)));
    return [out, ...(gradients(loss, [q, k, v]) as Tensor[])];
  };
}

/** Group ids in [0, m) for n tokens; group 1 left empty and group m - 1 given one token. */
function groupIds(n: number, m: number, seed: number): Int32Array {
  const r = new Rng(seed).uniform([n], 0, m - 1).dataSync();
  const ids = Int32Array.from(r, (x) => (Math.floor(x) === 1 ? 0 : Math.floor(x)));
  ids[n >> 1] = m - 1;
  return ids;
}

forEachBackend((name, backend) => {
  it('unary ops, every size', () => {
    for (const op of UNARY_OPS)
      for (const n of [...SIZES, 3 * 17])
        compareWithRef(
          backend(),
          () => OPS[op](['log', 'sqrt', 'rsqrt'].includes(op) ? pos([n], n) : rn([n], n, 3)),
          2e-6,
          1e-6,
          `${name} ${op} [${n}]`,
        );
  });

  it('unary ops at extremes (overflow, underflow, zero, NaN)', () => {
    const x = [0, -0, 1e-8, -1e-8, 0.6, -0.63, 5, -5, 20, -20, 88, 89, -87, -100, 1e30, -1e30, Number.NaN];
    for (const op of ['exp', 'tanh', 'sigmoid', 'silu', 'gelu', 'neg', 'abs', 'sign'] as const)
      compareWithRef(
        backend(),
        () => OPS[op](fromArray(x, [x.length])),
        2e-6,
        1e-30,
        `${name} ${op} extremes`,
      );
  });

  it('binary ops with broadcasting (same, scalar, row, column, leading batch, both sides, general)', () => {
    const pairs: [number[], number[]][] = [
      [
        [3, 17],
        [3, 17],
      ],
      [[129], [129]],
      [[3, 17], []],
      [[], [3, 17]],
      [[3, 17], [17]],
      [[17], [3, 17]],
      [
        [3, 17],
        [3, 1],
      ],
      [
        [3, 1],
        [3, 17],
      ],
      [
        [2, 3, 17],
        [3, 17],
      ],
      [
        [2, 3, 17],
        [2, 3, 1],
      ],
      [[129], [1]],
      [
        [3, 1],
        [1, 17],
      ], // outer: general path
      [
        [2, 1, 17],
        [3, 1],
      ], // general path
    ];
    for (const op of BINARY_OPS)
      for (const [sa, sb] of pairs)
        compareWithRef(
          backend(),
          () => {
            const a = op === 'pow' ? pos(sa, 1) : rn(sa, 1);
            // Rounded operands make 'equal' and 'greater' hit ties.
            const b =
              op === 'pow' ? rn(sb, 2) : op === 'equal' ? o.div(o.sub(o.exp(rn(sb, 2)), 0), 1) : rn(sb, 2);
            return op === 'equal' ? o.equal(a, o.where(o.greater(b, 0), a, b)) : OPS[op](a, b);
          },
          2e-6,
          1e-6,
          `${name} ${op} [${sa}] [${sb}]`,
        );
  });

  it('elementwise ops large enough to be shared with the pool (odd sizes, every broadcast mode)', () => {
    const b = backend();
    for (const op of ['exp', 'gelu', 'neg'] as const)
      compareWithRef(b, () => OPS[op](rn([131075], 1, 3)), 2e-6, 1e-6, `${name} ${op} large`);
    const pairs: [number[], number[]][] = [
      [[131075], [131075]],
      [[1031, 129], [129]],
      [[129], [1031, 129]],
      [
        [1031, 129],
        [1031, 1],
      ],
      [
        [1031, 1],
        [1031, 129],
      ],
      [[1031, 129], []],
    ];
    for (const [sa, sb] of pairs)
      for (const op of ['sub', 'div'] as const)
        compareWithRef(b, () => OPS[op](rn(sa, 1), rn(sb, 2)), 2e-6, 1e-6, `${name} ${op} [${sa}] [${sb}]`);
  });

  it('sum and max over every axis set, keepDims', () => {
    const shape = [3, 17, 129];
    const axesSets = [[2], [1], [0], [0, 1], [1, 2], [0, 1, 2], [0, 2]];
    for (const axes of axesSets)
      for (const keep of [false, true]) {
        compareWithRef(backend(), () => o.sum(rn(shape, 3), axes, keep), 1e-5, 1e-4, `${name} sum ${axes}`);
        compareWithRef(backend(), () => o.max(rn(shape, 4), axes, keep), 0, 0, `${name} max ${axes}`);
      }
    for (const n of SIZES)
      compareWithRef(backend(), () => o.sum(rn([n, 1, n], n), [2]), 1e-5, 1e-5, `${name} sum [${n}]`);
  });

  it('softmax, logSoftmax, logsumexp, mean, argmax', () => {
    for (const n of SIZES) {
      compareWithRef(backend(), () => o.softmax(rn([5, n], n, 4)), 1e-5, 1e-7, `${name} softmax ${n}`);
      compareWithRef(backend(), () => o.logSoftmax(rn([5, n], n, 4)), 1e-5, 1e-5, `${name} logSoftmax ${n}`);
      compareWithRef(backend(), () => o.logsumexp(rn([n, 3], n), 0), 1e-5, 1e-5, `${name} logsumexp ${n}`);
      compareWithRef(backend(), () => o.mean(rn([n, 7], n), 1), 1e-5, 1e-6, `${name} mean ${n}`);
      compareWithRef(backend(), () => o.argmax(rn([3, n], n)), 0, 0, `${name} argmax ${n}`);
    }
  });

  it('movement: permute, transpose, slice, concat, pad, broadcastTo, reshape, split (float32 and int32)', () => {
    const b = backend();
    const x = () => rn([3, 17, 5, 2], 5);
    for (const perm of [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [0, 2, 1, 3],
      [1, 0, 3, 2],
      [2, 3, 0, 1],
    ])
      compareWithRef(b, () => o.permute(x(), perm), 0, 0, `${name} permute ${perm}`);
    compareWithRef(b, () => o.transpose(rn([129, 17], 6)), 0, 0, `${name} transpose`);
    // Tiled transposes (both sides >= 8), with ragged tiles and outer batch axes.
    compareWithRef(b, () => o.permute(rn([3, 40, 33], 6), [0, 2, 1]), 0, 0, `${name} batched transpose`);
    compareWithRef(b, () => o.permute(rn([2, 3, 20, 24], 6), [1, 0, 3, 2]), 0, 0, `${name} 4-d transpose`);
    compareWithRef(b, () => o.permute(rn([9, 2, 130], 6), [2, 1, 0]), 0, 0, `${name} reversed`);
    compareWithRef(b, () => o.slice(x(), [1, 2, 0, 1], [3, 15, 4, 2]), 0, 0, `${name} slice`);
    compareWithRef(b, () => o.concat([x(), rn([3, 17, 5, 2], 7)], 2), 0, 0, `${name} concat`);
    compareWithRef(
      b,
      () => o.concat([rn([1, 3], 1), rn([4, 3], 2), rn([2, 3], 3)], 0),
      0,
      0,
      `${name} concat 0`,
    );
    compareWithRef(
      b,
      () =>
        o.pad(
          x(),
          [
            [1, 0],
            [0, 2],
            [3, 3],
            [0, 0],
          ],
          1.5,
        ),
      0,
      0,
      `${name} pad`,
    );
    compareWithRef(b, () => o.broadcastTo(rn([17, 1], 8), [3, 17, 129]), 0, 0, `${name} broadcastTo`);
    compareWithRef(b, () => o.split(rn([10, 3], 9), [3, 7], 0), 0, 0, `${name} split`);
    compareWithRef(b, () => o.reshape(o.permute(x(), [1, 0, 2, 3]), [17, -1]), 0, 0, `${name} reshape`);
    const ids = () =>
      fromArray(
        Int32Array.from({ length: 3 * 17 }, (_, i) => i * 7 - 30),
        [3, 17],
      );
    compareWithRef(b, () => o.transpose(ids()), 0, 0, `${name} int32 transpose`);
    compareWithRef(
      b,
      () =>
        o.pad(
          ids(),
          [
            [1, 1],
            [0, 2],
          ],
          -1,
        ),
      0,
      0,
      `${name} int32 pad`,
    );
    compareWithRef(b, () => o.add(ids(), ids()), 0, 0, `${name} int32 add`);
    compareWithRef(b, () => o.cast(ids(), 'float32'), 0, 0, `${name} cast`);
    compareWithRef(b, () => o.where(o.greater(rn([3, 17], 1), 0), rn([17], 2), -1), 0, 0, `${name} where`);
  });

  it('where, argmax and cast, including edge values', () => {
    const b = backend();
    const cond = () => fromArray([0, -0, 1, Number.NaN, -2, 0.5, 0, 3, 1e-30], [3, 3]);
    compareWithRef(b, () => o.where(cond(), rn([3, 3], 1), rn([3, 3], 2)), 0, 0, `${name} where full`);
    compareWithRef(b, () => o.where(cond(), 7, rn([3, 3], 2)), 0, 0, `${name} where scalar a`);
    compareWithRef(b, () => o.where(cond(), rn([3, 3], 1), -1), 0, 0, `${name} where scalar b`);
    compareWithRef(
      b,
      () => o.where(o.greater(rn([129], 3), 0), rn([129], 1), rn([1], 2)),
      0,
      0,
      `${name} where 129`,
    );
    const ints = () => fromArray(Int32Array.from([5, -7, 0, 2147483647, -2147483648, 1, 2, 3, 4]), [3, 3]);
    compareWithRef(
      b,
      () => o.where(cond(), ints(), o.cast(fromArray([9], [1]), 'int32')),
      0,
      0,
      `${name} where int32`,
    );
    compareWithRef(
      b,
      () => o.where(o.cast(ints(), 'int32'), rn([3, 3], 1), 0),
      0,
      0,
      `${name} where int32 cond`,
    );
    const x = [0, -0, 1.9, -1.9, 2.5, -2.5, 3e9, -3e9, 2 ** 40 + 3 * 2 ** 20, 2 ** 60, 1e38, -1e38];
    compareWithRef(
      b,
      () => o.cast(fromArray([...x, Number.NaN, Infinity, -Infinity], [15]), 'int32'),
      0,
      0,
      `${name} cast f32 -> i32`,
    );
    compareWithRef(b, () => o.cast(ints(), 'float32'), 0, 0, `${name} cast i32 -> f32`);
    for (const axis of [0, 1, 2])
      for (const ties of [false, true])
        compareWithRef(
          b,
          () => o.argmax(ties ? o.sign(rn([3, 17, 5], 4)) : rn([3, 17, 5], 4), axis),
          0,
          0,
          `${name} argmax ${axis}`,
        );
    compareWithRef(
      b,
      () => o.argmax(fromArray([1, 3, 3, Number.NaN, 2, 3], [6])),
      0,
      0,
      `${name} argmax ties/NaN`,
    );
  });

  it('matmul: sizes 1, 3, 17, 129, all transpose combinations, batch broadcast', () => {
    const b = backend();
    const dims: [number, number, number][] = [
      [1, 1, 1],
      [3, 17, 129],
      [129, 3, 17],
      [17, 129, 3],
      [67, 130, 129],
    ];
    for (const [m, k, n] of dims)
      for (const transA of [false, true])
        for (const transB of [false, true])
          compareWithRef(
            b,
            () =>
              o.matmul(rn(transA ? [k, m] : [m, k], m), rn(transB ? [n, k] : [k, n], n), { transA, transB }),
            1e-4,
            1e-4,
            `${name} matmul ${m}x${k}x${n} ${transA} ${transB}`,
          );
    compareWithRef(
      b,
      () => o.matmul(rn([2, 3, 5, 17], 1), rn([3, 17, 4], 2)),
      1e-4,
      1e-4,
      `${name} batch [2,3] x [3]`,
    );
    compareWithRef(
      b,
      () => o.matmul(rn([5, 17], 1), rn([4, 17, 3], 2), { transB: false }),
      1e-4,
      1e-4,
      `${name} batch [] x [4]`,
    );
    compareWithRef(
      b,
      () => o.matmul(rn([4, 1, 5, 9], 1), rn([3, 7, 5], 2), { transA: true, transB: true }),
      1e-4,
      1e-4,
      `${name} batch [4,1] x [3] TT`,
    );
    compareWithRef(b, () => o.matmul(rn([3, 0], 1), rn([0, 4], 2)), 0, 0, `${name} k = 0`);
  });

  it('matmul large enough to split across threads (rows, batches, columns)', () => {
    const b = backend();
    compareWithRef(b, () => o.matmul(rn([129, 257], 1), rn([257, 131], 2)), 1e-4, 2e-4, `${name} rows split`);
    // k > KC (384) and n > NC (1024): several blocks of the shared pre-packed B, padded last panel.
    for (const transB of [false, true])
      compareWithRef(
        b,
        () => o.matmul(rn([70, 400], 1), rn(transB ? [1030, 400] : [400, 1030], 2), { transB }),
        1e-4,
        2e-4,
        `${name} rows split, blocked B ${transB}`,
      );
    compareWithRef(
      b,
      () => o.matmul(rn([4, 65, 64], 1), rn([4, 64, 66], 2), { transB: false }),
      1e-4,
      2e-4,
      `${name} batch split`,
    );
    compareWithRef(
      b,
      () => o.matmul(rn([5, 300], 1), rn([1200, 300], 2), { transB: true }),
      1e-4,
      2e-4,
      `${name} column split`,
    );
  });

  it('gatherRows, scatterAddRows, embedding; out-of-range index is an error', () => {
    const b = backend();
    const idx = () => fromArray(Int32Array.from([4, 0, 16, 4, 3, 16, 1]), [7]);
    compareWithRef(b, () => o.gatherRows(rn([17, 3, 5], 1), idx()), 0, 0, `${name} gatherRows`);
    compareWithRef(
      b,
      () => o.scatterAddRows(rn([7, 129], 2), idx(), 17),
      1e-6,
      1e-6,
      `${name} scatterAddRows`,
    );
    compareWithRef(
      b,
      () => o.embedding(rn([17, 3], 1), fromArray(Int32Array.from([1, 2, 3, 4]), [2, 2])),
      0,
      0,
      `${name} embedding`,
    );
    assert.throws(
      () => onBackend(b, () => o.gatherRows(rn([3, 2], 1), fromArray(Int32Array.from([0, 3]), [2]))),
      /index 3 at position 1 is out of range \[0, 3\)/,
    );
    assert.throws(
      () => onBackend(b, () => o.scatterAddRows(rn([2, 2], 1), fromArray(Int32Array.from([-1, 0]), [2]), 3)),
      /index -1 at position 0 is out of range/,
    );
  });

  it('layerNorm and rmsNorm forward and backward (small and thread-split sizes)', () => {
    const b = backend();
    for (const [rows, d] of [
      [1, 1],
      [3, 17],
      [5, 129],
      [300, 257],
    ]) {
      const norm = (kind: 'layer' | 'rms') => () => {
        const x = rn([rows, d], d, 2);
        const w = rn([d], 3);
        const bias = rn([d], 4);
        for (const t of [x, w, bias]) t.requiresGrad = true;
        const y = kind === 'layer' ? o.layerNorm(x, w, bias, 1e-5) : o.rmsNorm(x, w, 1e-5);
        const loss = o.sum(o.mul(y, rn([rows, d], 5)));
        const gs = gradients(loss, kind === 'layer' ? [x, w, bias] : [x, w]);
        return [y, ...(gs as Tensor[])];
      };
      compareWithRef(b, norm('layer'), 1e-4, 1e-4, `${name} layerNorm ${rows}x${d}`);
      compareWithRef(b, norm('rms'), 1e-4, 1e-4, `${name} rmsNorm ${rows}x${d}`);
    }
  });

  it('a small MLP: forward and gradients of every parameter', () => {
    compareWithRef(
      backend(),
      () => {
        const x = rn([17, 33], 1);
        const w1 = rn([33, 65], 2, 0.2);
        const b1 = rn([65], 3);
        const w2 = rn([65, 3], 4, 0.2);
        for (const t of [w1, b1, w2]) t.requiresGrad = true;
        const h = o.gelu(o.add(o.matmul(x, w1), b1));
        const loss = o.mean(o.logSoftmax(o.matmul(h, w2)));
        return [loss, ...(gradients(loss, [w1, b1, w2]) as Tensor[])];
      },
      1e-4,
      1e-5,
      `${name} mlp`,
    );
  });

  it('groupedAttention forward and backward: full, routed with empty and one-token groups, awkward plans', () => {
    const b = backend();
    const cases: [string, AttentionPlan, number, number, number, number][] = [];
    for (const D of [1, 2, 12, 17, 64]) cases.push([`full N 37 D ${D}`, plans.full(37), 37, 37, 2, D]);
    cases.push(['one query, one key', plans.full(1), 1, 1, 1, 8]);
    cases.push(['routed N 131, M 5', plans.routed(groupIds(131, 5, 3), 5), 131, 131, 3, 16]);
    cases.push([
      'one group over several tiles (N 300)',
      plans.routed(new Int32Array(300), 2),
      300,
      300,
      1,
      32,
    ]);
    // Rows in no segment, queries without keys, keys without queries, key rows shared by segments, nq != nk.
    const odd = plans.fromSegments([
      { q: [0, 5, 2], kv: [1, 3, 4, 8] },
      { q: [], kv: [2, 3] },
      { q: [7], kv: [] },
      { q: [3], kv: [3] },
      { q: [6, 1], kv: [0, 1, 2, 3, 4, 5, 6, 7, 8] },
    ]);
    cases.push(['uncovered rows, empty sides, shared keys, nq 8 != nk 9', odd, 8, 9, 2, 8]);
    const L = { frames: 4, height: 4, width: 6, shotStarts: [0, 2] };
    cases.push([
      'windows x temporal groups',
      plans.windows(L, { window: [2, 3], temporalGroup: 2 }),
      96,
      96,
      2,
      16,
    ]);
    for (const [what, plan, nq, nk, H, D] of cases)
      compareWithRef(b, attention(plan, nq, nk, H, D), 2e-4, 2e-5, `${name} attention ${what}`);
    // Large logits (scores of order 100): the online softmax must rescale, not overflow.
    compareWithRef(
      b,
      attention(plans.full(37), 37, 37, 2, 16, 8),
      2e-4,
      2e-4,
      `${name} attention, large logits`,
    );
  });

  it('conv3d forward and both backward kernels (padding, causal time, strides, 1x1x1, large)', () => {
    for (const c of CONV_CASES)
      compareWithRef(backend(), convProgram(c), 1e-4, 1e-4, `${name} conv ${c.name}`);
  });

  it('norms and softmax on large and offset values, empty rows', () => {
    const b = backend();
    // Rows with a mean far from zero (the variance must not cancel) and wide softmax logits.
    const off = () => o.add(rn([7, 129], 1, 3), 100);
    compareWithRef(
      b,
      () => o.layerNorm(off(), rn([129], 2), rn([129], 3), 1e-5),
      1e-4,
      1e-4,
      `${name} layerNorm offset`,
    );
    compareWithRef(
      b,
      () => o.rmsNorm(o.mul(rn([7, 129], 1), 1e4), rn([129], 2), 1e-5),
      1e-4,
      1e-4,
      `${name} rmsNorm large`,
    );
    compareWithRef(b, () => o.softmax(rn([5, 129], 4, 50)), 1e-5, 1e-7, `${name} softmax wide logits`);
    compareWithRef(b, () => o.softmax(rn([0, 17], 4)), 0, 0, `${name} softmax no rows`);
    compareWithRef(
      b,
      () => o.layerNorm(rn([0, 17], 1), rn([17], 2), rn([17], 3)),
      0,
      0,
      `${name} layerNorm no rows`,
    );
    compareWithRef(b, () => o.matmul(rn([0, 5], 1), rn([5, 3], 2)), 0, 0, `${name} matmul m = 0`);
  });
});
