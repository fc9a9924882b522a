import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plans } from '../../src/attention/plans.js';
import type { TensorRef } from '../../src/backends/backend.js';
import { heldPlans } from '../../src/backends/cuda/attention-op.js';
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

  it('a plan lives while its tensors do: counted in liveBytes, reused by the backward, freed with lse', () => {
    const { ctx, driver } = mockContext();
    const be = createCudaBackend(ctx, { attention: 'float32' });
    const t = (data: Float32Array, shape: number[]): TensorRef => {
      const storage = be.alloc('float32', data.length);
      be.write(storage, data);
      return { storage, shape, dtype: 'float32' };
    };
    const [qt, kt, vt] = [t(q, [nq, h, d]), t(k, [nk, h, d]), t(v, [nk, h, d])];
    const fwd = () => [t(new Float32Array(nq * h * d), [nq, h, d]), t(new Float32Array(nq * h), [nq, h])];
    const tensors = be.liveBytes();
    const planBytes = 4 * (p.qIndex.length + p.qOffsets.length + p.kvIndex.length + p.kvOffsets.length);
    const uploads = () => driver.uploads.filter((a) => a instanceof Int32Array).length;
    const [o1, l1] = fwd();
    be.run('groupedAttention', [qt, kt, vt], [o1, l1], p);
    assert.equal(heldPlans(ctx), 1);
    assert.equal(uploads(), 4, 'the four plan arrays went up once');
    const atRest = be.liveBytes() - tensors - 4 * (nq * h * d + nq * h);
    assert.ok(atRest >= planBytes, `liveBytes counts the plan (${atRest} bytes over the tensors)`);
    // a second forward and a backward on the same plan reuse it; the plan outlives o1/l1's forward
    const [o2, l2] = fwd();
    be.run('groupedAttention', [qt, kt, vt], [o2, l2], p);
    const grads = [t(new Float32Array(nq * h * d), [nq, h, d]), t(new Float32Array(nk * h * d), [nk, h, d])];
    be.run(
      'groupedAttentionBackward',
      [o1, qt, kt, vt, o1, l1],
      [grads[0], grads[1], t(new Float32Array(nk * h * d), [nk, h, d])],
      p,
    );
    assert.equal(uploads(), 4, 'no second upload while a forward holds the plan');
    be.free(l1.storage);
    assert.equal(heldPlans(ctx), 1, 'l2 still holds it');
    be.free(l2.storage);
    assert.equal(heldPlans(ctx), 0, 'freed with the last lse');
    assert.equal(ctx.tempBytes(), 0, 'no device plan bytes left');
    const live = driver.liveAllocations();
    assert.equal(live, 8, 'only the tensors still allocated (q, k, v, o1, o2, dq, dk, dv)');
  });

  it('a routed plan built on the device from int32 keys runs as its host counterpart and lives with keys', () => {
    const { ctx, driver } = mockContext();
    const be = createCudaBackend(ctx, { attention: 'float32' });
    const n = 50;
    const segments = 7;
    const keys = Int32Array.from(randoms(9, n), (x) => Math.floor((x + 1) * 3.5)); // keys 0..6, some empty
    const ks = be.alloc('int32', n);
    be.write(ks, keys);
    const keyRef: TensorRef = { storage: ks, shape: [n], dtype: 'int32' };
    const handle = be.routedPlan!(keyRef, segments);
    assert.ok(
      driver.launches.some((l) => l.f.name === 'group_scatter'),
      'built by the plan kernels',
    );
    const host = plans.routed(keys, segments);
    const x = (seed: number) => ({ data: randoms(seed, n * h * d), shape: [n, h, d] });
    const [xq, xk, xv] = [x(11), x(12), x(13)];
    const want = { out: new Float32Array(n * h * d), lse: new Float32Array(n * h) };
    REF_KERNELS.groupedAttention(
      [xq, xk, xv],
      [
        { data: want.out, shape: [n, h, d] },
        { data: want.lse, shape: [n, h] },
      ],
      { ...host, scale: 0.3 },
    );
    const t = (data: Float32Array, shape: number[]): TensorRef => {
      const storage = be.alloc('float32', data.length);
      be.write(storage, data);
      return { storage, shape, dtype: 'float32' };
    };
    const outs = [t(new Float32Array(n * h * d), [n, h, d]), t(new Float32Array(n * h), [n, h])];
    be.run('groupedAttention', [t(xq.data, xq.shape), t(xk.data, xk.shape), t(xv.data, xv.shape)], outs, {
      ...handle,
      scale: 0.3,
    });
    const got = be.readSync(outs[0].storage, 'float32', n * h * d);
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want.out[i]) < 1e-5, `out ${i}`);
    assert.equal(
      driver.downloads.filter((a) => a instanceof Int32Array).length,
      0,
      'no plan came to the host',
    );
    be.free(ks);
    assert.equal(heldPlans(ctx), 1, 'the attention output still holds it');
    be.free(outs[1].storage);
    assert.equal(heldPlans(ctx), 0);
    assert.equal(ctx.tempBytes(), 0);
    // a handle whose plan is gone, or given rows it was not built for, is refused
    assert.throws(
      () =>
        be.run(
          'groupedAttention',
          [t(xq.data, [n, h, d]), t(xk.data, [n, h, d]), t(xv.data, [n, h, d])],
          outs,
          { ...handle, scale: 1 },
        ),
      /plan/,
    );
  });
});
