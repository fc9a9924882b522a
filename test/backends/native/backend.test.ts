/**
 * native-specific behaviour (the shared conformance suite, test/backends/ops.test.ts, also runs on
 * it): grouped attention forward and backward against ref on awkward plans, every ISA build this CPU
 * runs, bit-identical results for 1 and 2 threads, GEMM blocking edges, norms, and no ref fallback
 * for the hot ops of a training step. An unavailable library fails the suite, or skips it where
 * test/backends/required.ts allows (no C compiler on the PATH).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { groupedAttention } from '../../../src/attention/grouped-attention.js';
import type { AttentionPlan } from '../../../src/attention/plan.js';
import { plans } from '../../../src/attention/plans.js';
import { createNativeBackend, type NativeBackend } from '../../../src/backends/native/index.js';
import { gradients } from '../../../src/tensor/autodiff.js';
import * as o from '../../../src/tensor/ops.js';
import { Rng } from '../../../src/tensor/random.js';
import { apply, type Tensor } from '../../../src/tensor/tensor.js';
import { compareWithRef, onBackend } from '../conformance.js';
import { builds, describeNative, lib, rn } from './setup.js';

/** Attention forward, then gradients of a weighted sum w.r.t. q, k, v. */
function attention(plan: AttentionPlan, nq: number, nk: number, H: number, D: number, seed: number) {
  return () => {
    const q = rn([nq, H, D], seed, 1.5);
    const k = rn([nk, H, D], seed + 1, 1.5);
    const v = rn([nk, H, D], seed + 2);
    for (const t of [q, k, v]) t.requiresGrad = true;
    const out = groupedAttention(q, k, v, plan);
    const loss = o.sum(o.mul(out, rn([nq, H, D], seed + 3)));
    return [out, ...(gradients(loss, [q, k, v]) as Tensor[])];
  };
}

function routedIds(n: number, m: number, seed: number): Int32Array {
  const r = new Rng(seed).uniform([n], 0, m).dataSync();
  return Int32Array.from(r, (x) => Math.min(m - 1, Math.floor(x)));
}

describeNative('native backend', () => {
  it('the library loads and passes its start-up self-test (a compiler is present)', () => {
    assert.notEqual(typeof lib, 'string', `native library unavailable: ${lib}`);
    const b = createNativeBackend();
    assert.notEqual(typeof b, 'string', `native backend unavailable: ${b}`);
  });

  it('grouped attention forward and backward match ref (full, routed with empty/single groups, repeated keys), every ISA', () => {
    const cases: [string, AttentionPlan, number, number, number][] = [];
    for (const D of [2, 12, 64, 128]) cases.push([`full N 37 D ${D}`, plans.full(37), 37, 37, D]);
    cases.push(['one group over many tiles (N 131)', plans.routed(new Int32Array(131), 4), 131, 131, 16]);
    // groups of more than one key tile (dQ in its own pass) next to small ones (dQ fused)
    const mixed = routedIds(400, 2, 9).map((g, i) => (i % 9 === 0 ? 2 : g));
    cases.push(['routed, groups of ~180 and ~45 keys', plans.routed(mixed, 3), 400, 400, 16]);
    const ids = routedIds(53, 6, 7).map((g) => (g === 2 ? 3 : g)); // group 2 empty
    ids[10] = 5;
    for (let i = 0; i < ids.length; i++) if (ids[i] === 5 && i !== 10) ids[i] = 0; // group 5: one token
    cases.push(['routed, an empty and a single-token group', plans.routed(ids, 6), 53, 53, 24]);
    // Key rows shared by segments (STGA-like), a segment without keys, rows in no segment.
    const shared = plans.fromSegments([
      { q: [0, 1, 2, 3, 4], kv: [0, 1, 2, 3, 4, 5, 6] },
      { q: [5, 6, 7], kv: [3, 4, 5, 6, 7, 8] },
      { q: [8, 9], kv: [] },
      { q: [11, 12], kv: [12, 0, 0, 5] },
    ]);
    cases.push(['repeated key rows, keyless segment, uncovered row', shared, 14, 14, 8]);
    // Cross attention: fewer keys than queries.
    cases.push([
      'cross, 19 queries x 5 keys',
      plans.fromSegments([{ q: [...Array(19).keys()], kv: [4, 0, 2, 1, 3] }]),
      19,
      5,
      8,
    ]);
    // Keys over several forward key tiles (256 keys each on AVX2 and generic, 512 on AVX-512), the
    // last one ending in a padded panel, in a permuted order; 50 queries: two query tiles, the
    // second partial.
    cases.push([
      'cross, 50 queries x 1100 permuted keys (several key tiles)',
      plans.fromSegments([
        { q: [...Array(50).keys()], kv: Array.from({ length: 1100 }, (_, i) => (i * 7) % 1100) },
      ]),
      50,
      1100,
      16,
    ]);
    for (const b of builds())
      for (const [what, plan, nq, nk, D] of cases)
        compareWithRef(b, attention(plan, nq, nk, 3, D, nq + D), 2e-4, 2e-5, `${b.isa} ${what}`);
  });

  it('gives bit-identical results for 1 and 2 threads (GEMM, attention, norms)', () => {
    const b1 = createNativeBackend({ threads: 1, skipSelfTest: true }) as NativeBackend;
    const b2 = createNativeBackend({ threads: 2, skipSelfTest: true }) as NativeBackend;
    const N = 700;
    const progs = [
      () => o.matmul(rn([300, 520], 1), rn([520, 270], 2)),
      () => o.matmul(rn([6, 97, 40], 1), rn([40, 33], 2)),
      attention(plans.full(N), N, N, 2, 32, 5),
      attention(plans.routed(routedIds(N, 4, 3), 4), N, N, 2, 64, 6),
      // groups of about 44 keys: dQ comes from the fused dK/dV pass
      attention(plans.routed(routedIds(N, 16, 4), 16), N, N, 2, 32, 7),
      () => {
        const x = rn([333, 96], 1);
        const w = rn([96], 2);
        const bias = rn([96], 3);
        for (const t of [x, w, bias]) t.requiresGrad = true;
        const y = o.layerNorm(o.rmsNorm(x, w, 1e-5), w, bias, 1e-5);
        return [y, ...(gradients(o.sum(o.mul(y, y)), [x, w, bias]) as Tensor[])];
      },
    ];
    for (const [i, f] of progs.entries()) {
      const one = onBackend(b1, f);
      const two = onBackend(b2, f);
      one.forEach((a, j) =>
        assert.deepEqual(two[j], a, `program ${i} output ${j} differs between 1 and 2 threads`),
      );
    }
  });

  it('GEMM across blocking edges (k > KC, rows and columns not multiples of the tile, transposes, batches)', () => {
    for (const b of builds()) {
      for (const [m, k, n] of [
        [1, 600, 1],
        [7, 257, 1030],
        [130, 513, 17],
        [97, 1, 65],
      ])
        for (const transA of [false, true])
          for (const transB of [false, true])
            compareWithRef(
              b,
              () =>
                o.matmul(rn(transA ? [k, m] : [m, k], m), rn(transB ? [n, k] : [k, n], n), {
                  transA,
                  transB,
                }),
              1e-4,
              2e-4,
              `${b.isa} ${m}x${k}x${n} ${transA} ${transB}`,
            );
      compareWithRef(
        b,
        () => o.matmul(rn([5, 2, 33, 20], 1), rn([2, 20, 19], 2)),
        1e-4,
        1e-4,
        `${b.isa} batch`,
      );
    }
  });

  it('GEMM on edge sizes (m, n in 1, 7, 17, 33, 65; k in 1, 17, 65) and on the threaded paths (B packed once and shared, column chunks), every ISA', () => {
    const edges = [1, 7, 17, 33, 65];
    for (const b of builds()) {
      for (const m of edges)
        for (const k of [1, 17, 65])
          for (const n of edges)
            compareWithRef(
              b,
              () => o.matmul(rn([m, k], m * 7 + k), rn([k, n], n * 3 + k)),
              1e-4,
              1e-4,
              `${b.isa} ${m}x${k}x${n}`,
            );
      // Above the serial threshold: one product cut into row chunks sharing one packed B whose
      // k blocks (k > 4 KC, last one partial) are packed inside the job; a short C cut into column
      // chunks; both operands transposed.
      for (const [m, k, n, tA, tB] of [
        [200, 1100, 130, false, false],
        [333, 520, 97, true, true],
        [5, 900, 1500, false, true],
        [1, 2048, 700, true, false],
      ] as [number, number, number, boolean, boolean][])
        compareWithRef(
          b,
          () =>
            o.matmul(rn(tA ? [k, m] : [m, k], m + 1), rn(tB ? [n, k] : [k, n], n + 2), {
              transA: tA,
              transB: tB,
            }),
          2e-4,
          2e-4,
          `${b.isa} threaded ${m}x${k}x${n} ${tA} ${tB}`,
        );
    }
    // The shared-B path gives the bits of the serial one.
    const b1 = createNativeBackend({ threads: 1, skipSelfTest: true }) as NativeBackend;
    const b2 = createNativeBackend({ threads: 2, skipSelfTest: true }) as NativeBackend;
    for (const [m, k, n] of [
      [200, 1100, 130],
      [5, 900, 1500],
    ]) {
      const f = () => o.matmul(rn([m, k], 11), rn([k, n], 12));
      const [one] = onBackend(b1, f);
      const [two] = onBackend(b2, f);
      assert.deepEqual(two, one, `${m}x${k}x${n}: 1 and 2 threads differ`);
    }
  });

  it('layerNorm and rmsNorm forward and backward match ref (rows not a multiple of the row block)', () => {
    for (const b of builds())
      for (const [rows, d] of [
        [1, 1],
        [65, 7],
        [130, 300],
      ]) {
        const f = () => {
          const x = rn([rows, d], d, 2);
          const w = rn([d], 3);
          const bias = rn([d], 4);
          for (const t of [x, w, bias]) t.requiresGrad = true;
          const y1 = o.layerNorm(x, w, bias, 1e-5);
          const y2 = o.rmsNorm(x, w, 1e-5);
          const loss = o.add(o.sum(o.mul(y1, rn([rows, d], 5))), o.sum(o.mul(y2, rn([rows, d], 6))));
          return [y1, y2, ...(gradients(loss, [x, w, bias]) as Tensor[])];
        };
        compareWithRef(b, f, 1e-4, 1e-4, `${b.isa} norms ${rows}x${d}`);
      }
  });

  it('rejects a malformed attention plan before the C code (which trusts it) sees it', () => {
    const b = createNativeBackend({ threads: 2, skipSelfTest: true }) as NativeBackend;
    const run = (qIndex: number[], qOffsets: number[], kvIndex: number[], kvOffsets: number[]) =>
      onBackend(b, () => {
        const [q, k, v] = [1, 2, 3].map((s) => rn([3, 1, 4], s));
        const [qi, qo, ki, ko] = [qIndex, qOffsets, kvIndex, kvOffsets].map((a) => Int32Array.from(a));
        const plan = { qIndex: qi, qOffsets: qo, kvIndex: ki, kvOffsets: ko, scale: 0.5 };
        return apply('groupedAttention', [q, k, v], plan)[0];
      });
    // the one validator (core/attention-plan.ts), called by the kernel even for a trusted plan
    assert.throws(() => run([0, 5], [0, 2], [0], [0, 1]), /query row 5 \(qIndex\[1\]\) outside \[0, 3\)/);
    assert.throws(
      () => run([0], [0, 1], [2, -1], [0, 2]),
      /key\/value row -1 \(kvIndex\[1\]\) outside \[0, 3\)/,
    );
    assert.throws(() => run([0, 1], [0, 2], [0], [0, 2]), /kvOffsets ends at 2 but kvIndex has 1/);
    assert.throws(() => run([0, 1], [0, 2, 1], [0], [0, 1, 1]), /qOffsets decreases at segment 1/);
    assert.throws(() => run([0], [1, 1], [0], [0, 1]), /qOffsets\[0\] must be 0/);
    assert.throws(
      () => run([1, 1], [0, 1, 2], [0], [0, 1, 1]),
      /query row 1 is in segment 0 and again in segment 1/,
    );
  });

  it('a recycled array reads as zeros until written, also as an op input', () => {
    const b = createNativeBackend({ threads: 2, skipSelfTest: true }) as NativeBackend;
    const n = 5000; // pooled sizes start at 4096 elements
    const used = () => {
      const s = b.alloc('float32', n);
      b.write(s, new Float32Array(n).fill(7));
      b.free(s);
    };
    used();
    assert.deepEqual(b.readSync(b.alloc('float32', n), 'float32', n), new Float32Array(n));
    used();
    const x = b.alloc('float32', n); // recycled, never written: reads as zeros
    const y = b.alloc('float32', n);
    b.write(y, new Float32Array(n).fill(1));
    const z = b.alloc('float32', n);
    const t = (storage: typeof x) => ({ storage, shape: [n], dtype: 'float32' as const });
    b.run('add', [t(x), t(y)], [t(z)], {} as never);
    assert.deepEqual(b.readSync(z, 'float32', n), new Float32Array(n).fill(1));
  });

  it('grouped attention on recycled output arrays: rows the plan leaves out read 0 and lse -inf', () => {
    const b = createNativeBackend({ threads: 2, skipSelfTest: true }) as NativeBackend;
    const [nq, H, D] = [2048, 2, 2]; // out 8,192 and lse 4,096 elements: both pooled sizes
    // row 0 in no segment, row 1 in a segment without keys, the rest attend to keys 0..9
    const rest = Array.from({ length: nq - 2 }, (_, i) => i + 2);
    const plan = plans.fromSegments([
      { q: [1], kv: [] },
      { q: rest, kv: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
    ]);
    const [out, lse] = onBackend(b, () => {
      for (const n of [nq * H * D, nq * H]) o.add(rn([n], 9), 7).dispose(); // dirty arrays to the pool
      const [q, k, v] = [1, 2, 3].map((s) => rn([nq, H, D], s));
      return apply('groupedAttention', [q, k, v], { ...plan, scale: 0.5 });
    });
    for (const r of [0, 1])
      for (let h = 0; h < H; h++) {
        assert.equal(lse[r * H + h], Number.NEGATIVE_INFINITY, `lse of row ${r}, head ${h}`);
        for (let d = 0; d < D; d++) assert.equal(out[(r * H + h) * D + d], 0, `out of row ${r}`);
      }
    assert.ok(Number.isFinite(lse[2 * H]), 'a row with keys has a finite lse');
  });

  it('runs the hot ops of a training step natively (no ref fallback)', () => {
    const b = createNativeBackend({ threads: 2, skipSelfTest: true }) as NativeBackend;
    const before = b.refFallbacks();
    onBackend(b, () => {
      const x = rn([40, 32], 1);
      const w1 = rn([32, 64], 2, 0.2);
      const w2 = rn([64, 32], 3, 0.2);
      const ln = rn([32], 4);
      for (const t of [w1, w2, ln]) t.requiresGrad = true;
      const h = o.rmsNorm(x, ln, 1e-6);
      const qkv = o.reshape(o.matmul(h, w1), [40, 2, 32]);
      const att = groupedAttention(qkv, qkv, qkv, plans.full(40));
      const y = o.add(x, o.matmul(o.silu(o.reshape(att, [40, 64])), w2));
      const loss = o.mean(o.mul(y, y));
      return [loss, ...(gradients(loss, [w1, w2, ln]) as Tensor[])];
    });
    const after = b.refFallbacks();
    for (const op of [
      'matmul',
      'groupedAttention',
      'groupedAttentionBackward',
      'rmsNorm',
      'rmsNormBackward',
      'mul',
      'add',
      'silu',
    ])
      assert.equal(after[op] ?? 0, before[op] ?? 0, `${op} fell back to ref`);
  });
});
