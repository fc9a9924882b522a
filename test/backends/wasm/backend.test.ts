/**
 * wasm-specific behaviour: hot ops run in WebAssembly (no ref fallback), the plain and relaxed
 * builds and 1 or 2 threads agree with ref, memory stays flat over 1000 training steps, and the
 * pool's workers never keep the process alive.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { createWasmBackend, type WasmBackend } from '../../../src/backends/wasm/index.js';
import { gradients } from '../../../src/tensor/autodiff.js';
import * as o from '../../../src/tensor/ops.js';
import { Rng } from '../../../src/tensor/random.js';
import { type Tensor, tidy } from '../../../src/tensor/tensor.js';
import { compareWithRef, onBackend } from '../conformance.js';
import { describeNeeding } from '../required.js';

const made: WasmBackend[] = [];
function make(opts: Parameters<typeof createWasmBackend>[0]): WasmBackend | undefined {
  const b = createWasmBackend(opts);
  if (typeof b === 'string') return undefined;
  made.push(b);
  return b;
}
after(() => {
  for (const b of made) b.dispose();
});

const probe = createWasmBackend({ threads: 1 });
const unavailable = typeof probe === 'string' ? probe : undefined;
if (typeof probe !== 'string') probe.dispose();

const rn = (shape: number[], seed: number, std = 1) => new Rng(seed).normal(shape, std);

/** A transformer-ish step: matmuls, layerNorm, softmax attention, gelu MLP, loss, gradients. */
function step(seed: number, params: Tensor[]): Tensor[] {
  const [wq, wk, w1, w2, ln] = params;
  const x = rn([9, 16], seed);
  const h = o.layerNorm(x, ln);
  const q = o.matmul(h, wq);
  const k = o.matmul(h, wk);
  const att = o.softmax(o.mul(o.matmul(q, k, { transB: true }), 0.25));
  const y = o.add(x, o.matmul(o.gelu(o.matmul(o.matmul(att, h), w1)), w2));
  const loss = o.mean(o.mul(y, y));
  return [loss, ...(gradients(loss, params) as Tensor[])];
}

function makeParams(): Tensor[] {
  const ps = [
    rn([16, 16], 1, 0.3),
    rn([16, 16], 2, 0.3),
    rn([16, 32], 3, 0.3),
    rn([32, 16], 4, 0.3),
    rn([16], 5),
  ];
  for (const p of ps) p.requiresGrad = true;
  return ps;
}

describeNeeding('wasm', unavailable, 'wasm backend', () => {
  it('runs the hot ops of a forward+backward step without falling back to ref', () => {
    const b = make({ threads: 2 })!;
    onBackend(b, () => step(1, makeParams()));
    onBackend(b, () => {
      const x = rn([5, 7], 2);
      return [
        o.where(o.greater(x, 0), x, 0),
        o.argmax(x),
        o.cast(o.cast(x, 'int32'), 'float32'),
        o.transpose(x),
      ];
    });
    assert.deepEqual(b.refFallbacks(), {});
  });

  it('plain-SIMD and relaxed builds, 1 and 2 threads, all match ref', () => {
    for (const relaxed of [false, true])
      for (const threads of [1, 2]) {
        const b = make({ threads, relaxed })!;
        if (relaxed === false) assert.equal(b.relaxed, false);
        compareWithRef(b, () => step(3, makeParams()), 1e-4, 1e-5, `relaxed=${relaxed} threads=${threads}`);
        compareWithRef(
          b,
          () => o.matmul(rn([131, 257], 1), rn([129, 257], 2), { transB: true }),
          1e-4,
          2e-4,
          `gemm t=${threads}`,
        );
      }
  });

  it('split products are bit-identical to one thread, over many back-to-back jobs (pool protocol)', () => {
    const one = make({ threads: 1 })!;
    const two = make({ threads: 2 })!;
    // Just above the split thresholds (GEMM 1M multiply-adds, elementwise 128K), so wake-ups and
    // claims race often.
    const f = () => [
      o.matmul(rn([130, 70], 1), rn([70, 130], 2)),
      o.matmul(rn([3, 60, 70], 3), rn([70, 90], 4)),
      o.exp(rn([140_001], 5)),
      o.add(rn([700, 201], 6), rn([201], 7)),
    ];
    const want = onBackend(one, f);
    for (let i = 0; i < 60; i++) {
      const got = onBackend(two, f);
      got.forEach((g, j) => assert.deepEqual(g, want[j], `job ${i}, output ${j}`));
    }
  });

  it('keeps liveBytes and the heap flat over 1000 forward+backward steps in tidy', () => {
    const b = make({ threads: 2 })!;
    onBackend(b, () => {
      const params = makeParams();
      const live0 = b.liveBytes();
      let reservedAt100 = 0;
      for (let i = 0; i < 1000; i++) {
        tidy(() => {
          step(i, params);
        });
        assert.equal(b.liveBytes(), live0, `live bytes changed at step ${i}`);
        if (i === 100) reservedAt100 = b.reservedBytes();
      }
      assert.equal(b.reservedBytes(), reservedAt100, 'heap grew after warm-up');
      for (const p of params) p.dispose();
      return [];
    });
  });

  it('reports a missing build as a reason, not an exception', () => {
    const r = createWasmBackend({ dir: '/nonexistent/build/wasm' });
    assert.equal(typeof r, 'string');
    assert.match(r as string, /kernels\.wasm not found \(run npm run build\)/);
  });

  it('rejects a bad thread count and writes past a block', () => {
    assert.throws(() => createWasmBackend({ threads: 0 }), /threads must be an integer >= 1, got 0/);
    const b = make({ threads: 1 })!;
    const s = b.alloc('float32', 2);
    assert.throws(() => b.write(s, new Float32Array(3)), /12 bytes into a 8-byte block/);
    b.free(s);
  });
});
