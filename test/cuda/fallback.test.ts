import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createCudaBackend } from '../../src/backends/cuda/backend.js';
import { openCudaDriver } from '../../src/backends/cuda/driver.js';
import { availableBackends } from '../../src/backends/index.js';
import { REF_KERNELS } from '../../src/backends/ref/kernels/index.js';
import { mockContext, randoms } from './helpers.js';

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
    // conv3d has no CUDA kernel (the VAE's op; the DiT does not use it): it falls back
    const { ctx, driver } = mockContext();
    const be = createCudaBackend(ctx);
    const x = { data: randoms(3, 2 * 2 * 3 * 4 * 4), shape: [2, 2, 3, 4, 4] };
    const w = { data: randoms(4, 3 * 2 * 2 * 3 * 3), shape: [3, 2, 2, 3, 3] };
    const p = {
      stride: [1, 2, 1],
      padding: [
        [0, 0],
        [1, 1],
        [1, 1],
      ] as [number, number][],
    };
    const want = { data: new Float32Array(2 * 3 * 2 * 3 * 4), shape: [2, 3, 2, 3, 4] };
    REF_KERNELS.conv3d([x, w], [want], p);
    const [xs, ws, ys] = [x.data.length, w.data.length, want.data.length].map((n) => be.alloc('float32', n));
    be.write(xs, x.data);
    be.write(ws, w.data);
    be.run(
      'conv3d',
      [
        { storage: xs, shape: x.shape, dtype: 'float32' },
        { storage: ws, shape: w.shape, dtype: 'float32' },
      ],
      [{ storage: ys, shape: want.shape, dtype: 'float32' }],
      p,
    );
    assert.deepEqual(be.readSync(ys, 'float32', want.data.length), want.data);
    assert.equal(be.fallbacks.get('conv3d'), 1);
    assert.equal(driver.launches.length, 0, 'no kernel was launched for the fallback');
    assert.equal(be.liveBytes(), 4 * (x.data.length + w.data.length + want.data.length));
    for (const s of [xs, ws, ys]) be.free(s);
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
