import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createCudaBackend } from '../../src/backends/cuda/backend.js';
import { openCudaDriver } from '../../src/backends/cuda/driver.js';
import { availableBackends } from '../../src/backends/index.js';
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
    const { ctx, driver } = mockContext();
    const be = createCudaBackend(ctx);
    const x = be.alloc('int32', 6);
    be.write(x, Int32Array.from([0, 1, 2, 3, 4, 5]));
    const y = be.alloc('int32', 6);
    // the elementwise kernels are float32 only: int32 arithmetic falls back
    be.run(
      'add',
      [
        { storage: x, shape: [2, 3], dtype: 'int32' },
        { storage: x, shape: [2, 3], dtype: 'int32' },
      ],
      [{ storage: y, shape: [2, 3], dtype: 'int32' }],
      {},
    );
    assert.deepEqual([...be.readSync(y, 'int32', 6)], [0, 2, 4, 6, 8, 10]);
    assert.equal(be.fallbacks.get('add'), 1);
    assert.equal(driver.launches.length, 0, 'no kernel was launched for the fallback');
    assert.equal(be.liveBytes(), 48);
    be.free(x);
    be.free(y);
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
