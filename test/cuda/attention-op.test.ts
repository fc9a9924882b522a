import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TensorRef } from '../../src/backends/backend.js';
import { createCudaBackend } from '../../src/backends/cuda/backend.js';
import { REF_KERNELS } from '../../src/backends/ref/kernels/index.js';
import type { GroupedAttentionParams } from '../../src/core/op-spec.js';
import { mockContext, randoms } from './helpers.js';

describe('groupedAttention op on the CUDA backend (mock driver)', () => {
  const [nq, nk, h, d] = [90, 70, 2, 64];
  const p: GroupedAttentionParams = {
    qIndex: Int32Array.from({ length: 80 }, (_, i) => (i * 11) % nq),
    qOffsets: Int32Array.from([0, 70, 75, 80]),
    kvIndex: Int32Array.from([...Array(60).keys(), 1, 2, 3]),
    kvOffsets: Int32Array.from([0, 60, 63, 63]),
    scale: 0.2,
  };
  const q = randoms(1, nq * h * d, 2);
  const k = randoms(2, nk * h * d);
  const v = randoms(3, nk * h * d);
  const ref = { out: new Float32Array(nq * h * d), lse: new Float32Array(nq * h) };
  REF_KERNELS.groupedAttention(
    [
      { data: q, shape: [nq, h, d] },
      { data: k, shape: [nk, h, d] },
      { data: v, shape: [nk, h, d] },
    ],
    [
      { data: ref.out, shape: [nq, h, d] },
      { data: ref.lse, shape: [nq, h] },
    ],
    p,
  );

  // bf16: inputs are rounded to bf16, so scores (and lse) move by ~0.4% of their size
  for (const [attention, tol, lseTol] of [
    ['bfloat16', 1e-2, 3e-2],
    ['float32', 1e-5, 1e-4],
  ] as const)
    it(`matches the reference kernel (${attention}), lse -inf where no key`, () => {
      const { ctx, driver } = mockContext();
      const be = createCudaBackend(ctx, { attention });
      const t = (data: Float32Array, shape: number[]): TensorRef => {
        const storage = be.alloc('float32', data.length);
        be.write(storage, data);
        return { storage, shape, dtype: 'float32' };
      };
      const outs = [t(new Float32Array(nq * h * d), [nq, h, d]), t(new Float32Array(nq * h), [nq, h])];
      be.run('groupedAttention', [t(q, [nq, h, d]), t(k, [nk, h, d]), t(v, [nk, h, d])], outs, p);
      assert.equal(be.fallbacks.size, 0, 'ran on the device, not the reference fallback');
      const kernel = attention === 'float32' ? 'attn_fwd_f32' : 'attn_fwd_bf16_w4_d64';
      assert.ok(
        driver.launches.some((l) => l.f.name === kernel),
        `${kernel} was launched`,
      );
      const out = be.readSync(outs[0].storage, 'float32', nq * h * d);
      const lse = be.readSync(outs[1].storage, 'float32', nq * h);
      let num = 0;
      let den = 0;
      for (let i = 0; i < out.length; i++) {
        num += (out[i] - ref.out[i]) ** 2;
        den += ref.out[i] ** 2;
      }
      assert.ok(Math.sqrt(num / den) < tol, `relative error ${Math.sqrt(num / den)}`);
      for (let i = 0; i < lse.length; i++) {
        if (Number.isFinite(ref.lse[i]))
          assert.ok(Math.abs(lse[i] - ref.lse[i]) < lseTol * Math.max(1, Math.abs(ref.lse[i])), `lse ${i}`);
        else assert.equal(lse[i], ref.lse[i], `lse ${i} is ${ref.lse[i]}`);
      }
    });

  const dOut = randoms(4, nq * h * d);
  const refGrads = [new Float32Array(nq * h * d), new Float32Array(nk * h * d), new Float32Array(nk * h * d)];
  REF_KERNELS.groupedAttentionBackward(
    [
      { data: dOut, shape: [nq, h, d] },
      { data: q, shape: [nq, h, d] },
      { data: k, shape: [nk, h, d] },
      { data: v, shape: [nk, h, d] },
      { data: ref.out, shape: [nq, h, d] },
      { data: ref.lse, shape: [nq, h] },
    ],
    refGrads.map((data, i) => ({ data, shape: i === 0 ? [nq, h, d] : [nk, h, d] })),
    p,
  );
  for (const [attention, tol] of [
    ['bfloat16', 1e-2],
    ['float32', 1e-5],
  ] as const)
    it(`backward matches the reference kernel (${attention})`, () => {
      const { ctx, driver } = mockContext();
      const be = createCudaBackend(ctx, { attention });
      const t = (data: Float32Array, shape: number[]): TensorRef => {
        const storage = be.alloc('float32', data.length);
        be.write(storage, data);
        return { storage, shape, dtype: 'float32' };
      };
      const ins = [
        t(dOut, [nq, h, d]),
        t(q, [nq, h, d]),
        t(k, [nk, h, d]),
        t(v, [nk, h, d]),
        t(ref.out, [nq, h, d]),
        t(ref.lse, [nq, h]),
      ];
      const outs = [
        t(new Float32Array(nq * h * d).fill(7), [nq, h, d]),
        t(new Float32Array(nk * h * d), [nk, h, d]),
        t(new Float32Array(nk * h * d), [nk, h, d]),
      ];
      be.run('groupedAttentionBackward', ins, outs, p);
      assert.equal(be.fallbacks.size, 0);
      const bf = attention === 'bfloat16';
      assert.ok(
        driver.launches.some((l) => l.f.name === (bf ? 'attn_bwd_dkdv_bf16_w4_d64' : 'attn_bwd_dkdv_f32')),
      );
      outs.forEach((o, i) => {
        const got = be.readSync(o.storage, 'float32', refGrads[i].length);
        let num = 0;
        let den = 0;
        for (let e = 0; e < got.length; e++) {
          num += (got[e] - refGrads[i][e]) ** 2;
          den += refGrads[i][e] ** 2;
        }
        assert.ok(
          Math.sqrt(num / den) < tol,
          `${['dq', 'dk', 'dv'][i]}: relative error ${Math.sqrt(num / den)}`,
        );
      });
    });
});
