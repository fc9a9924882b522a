import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLaunch, packArgs } from '../../src/backends/cuda/driver-types.js';

describe('cuda kernel arguments', () => {
  it('packs with C alignment: 4-byte scalars, 8-byte pointers and structs', () => {
    const s = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const { block, offsets } = packArgs([
      { i32: -3 },
      { ptr: 0x7f0012345600 },
      { f32: 1.5 },
      { i64: 2 ** 40 },
      { i32: 7 },
      { bytes: s },
    ]);
    assert.deepEqual(offsets, [0, 8, 16, 24, 32, 40]);
    const v = new DataView(block.buffer);
    assert.equal(v.getInt32(0, true), -3);
    assert.equal(Number(v.getBigUint64(8, true)), 0x7f0012345600);
    assert.equal(v.getFloat32(16, true), 1.5);
    assert.equal(Number(v.getBigInt64(24, true)), 2 ** 40);
    assert.equal(v.getInt32(32, true), 7);
    assert.deepEqual([...block.subarray(40, 52)], [...s]);
    assert.equal(block.length % 8, 0);
  });
  it('rejects an int argument that is not a 32-bit integer', () => {
    assert.throws(() => packArgs([{ i32: 2 ** 31 }]), /not a 32-bit integer/);
    assert.throws(() => packArgs([{ i32: 1.5 }]), /not a 32-bit integer/);
  });
  it('checks launch shapes against the hardware limits', () => {
    const f = { module: 'm', name: 'k' };
    const ok = { grid: [10, 12, 1], block: [128, 1, 1], shared: 64 * 1024 } as const;
    checkLaunch(f, ok);
    assert.throws(() => checkLaunch(f, { ...ok, grid: [0, 1, 1] }), /not a positive integer/);
    assert.throws(() => checkLaunch(f, { ...ok, block: [1025, 1, 1] }), /more than 1024 threads/);
    assert.throws(() => checkLaunch(f, { ...ok, grid: [1, 70000, 1] }), /exceeds the limits/);
    assert.throws(() => checkLaunch(f, { ...ok, shared: 300 * 1024 }), /shared memory/);
  });
});
