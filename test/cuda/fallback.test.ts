import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createCudaBackend } from '../../src/backends/cuda/backend.js';
import { openCudaDriver } from '../../src/backends/cuda/driver.js';
import { availableBackends } from '../../src/backends/index.js';
import { REF_KERNELS } from '../../src/backends/ref/kernels/index.js';
import { mockContext } from './helpers.js';

const driverPresent = [
  '/usr/lib/x86_64-linux-gnu/libcuda.so.1',
  '/usr/lib64/libcuda.so.1',
  '/usr/local/nvidia/lib64/libcuda.so.1',
].some(existsSync);

describe('cuda fallback', () => {
  it('says why there is no CUDA backend and keeps the CPU ones', {
    skip: driverPresent && 'an NVIDIA driver is installed here',
  }, async () => {
    const d = openCudaDriver();
    assert.equal(typeof d, 'string');
    assert.match(d as string, /no NVIDIA driver/);
    const { available, unavailable } = await availableBackends();
    assert.ok(available.includes('ref'));
    assert.ok(!available.includes('cuda'));
    assert.match(unavailable.cuda, /no NVIDIA driver/);
  });

  it('runs ops without a CUDA kernel through the reference kernel', () => {
    // int32 pow has no CUDA kernel (elementwise.cu covers the other int32 binary ops): it falls back
    const { ctx, driver } = mockContext();
    const be = createCudaBackend(ctx);
    const a = { data: Int32Array.from([2, -3, 5, 0, 7, 1]), shape: [2, 3] };
    const b = { data: Int32Array.from([3, 2, 0]), shape: [3] };
    const want = { data: new Int32Array(6), shape: [2, 3] };
    REF_KERNELS.pow([a, b], [want], {});
    assert.deepEqual([...want.data], [8, 9, 1, 0, 49, 1]);
    const [as, bs, ys] = [6, 3, 6].map((n) => be.alloc('int32', n));
    be.write(as, a.data);
    be.write(bs, b.data);
    be.run(
      'pow',
      [
        { storage: as, shape: a.shape, dtype: 'int32' },
        { storage: bs, shape: b.shape, dtype: 'int32' },
      ],
      [{ storage: ys, shape: want.shape, dtype: 'int32' }],
      {},
    );
    assert.deepEqual(be.readSync(ys, 'int32', 6), want.data);
    assert.equal(be.fallbacks.get('pow'), 1);
    assert.equal(driver.launches.length, 0, 'no kernel was launched for the fallback');
    assert.equal(be.liveBytes(), 4 * 15);
    for (const s of [as, bs, ys]) be.free(s);
    assert.equal(be.liveBytes(), 0);
  });

  it('launches the CUDA kernel for ops it covers, with checked arguments', () => {
    const { ctx, driver } = mockContext();
    const be = createCudaBackend(ctx);
    const x = be.alloc('float32', 5);
    be.write(x, Float32Array.from([1, -2, 3, 0, -5]));
    const y = be.alloc('float32', 5);
    be.run(
      'neg',
      [{ storage: x, shape: [5], dtype: 'float32' }],
      [{ storage: y, shape: [5], dtype: 'float32' }],
      {},
    );
    assert.deepEqual([...be.readSync(y, 'float32', 5)], [-1, 2, -3, -0, 5]);
    assert.equal(be.fallbacks.size, 0);
    const l = driver.launches.at(-1);
    assert.equal(l?.f.name, 'unary_f32');
    assert.deepEqual(l?.args.slice(2), [{ i64: 5 }, { i32: 0 }]);
  });
});
