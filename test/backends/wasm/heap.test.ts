/** The wasm heap allocator: size classes, reuse, zero-fill, growth, exact live bytes, bad frees. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHeap, sizeClass } from '../../../src/backends/wasm/heap.js';
import { WA } from '../../../src/backends/wasm/wasm-api.js';

const newHeap = () => createHeap(new WA!.Memory({ initial: 1, maximum: 1024, shared: true }), 100);

describe('wasm heap', () => {
  it('size classes: 64-byte steps to 4 KiB, then at most 1/8 waste', () => {
    assert.equal(sizeClass(0), 64);
    assert.equal(sizeClass(1), 64);
    assert.equal(sizeClass(65), 128);
    assert.equal(sizeClass(4096), 4096);
    for (const n of [4097, 5000, 100_000, 1_234_567, 2 ** 24 + 1]) {
      const c = sizeClass(n);
      assert.ok(c >= n && c <= n * 1.125 + 64, `class ${c} for ${n}`);
      assert.equal(c % 64, 0);
      assert.equal(sizeClass(c), c, 'a class is its own class');
    }
  });

  it('reuses freed blocks of the same class, zero-filled, and counts live bytes exactly', () => {
    const h = newHeap();
    const a = h.alloc(1000);
    assert.equal(a % 64, 0);
    assert.equal(h.liveBytes(), 1000);
    h.f32().fill(7, a / 4, a / 4 + 250);
    h.free(a);
    assert.equal(h.liveBytes(), 0);
    const b = h.alloc(990); // same class (1024)
    assert.equal(b, a, 'block reused');
    assert.ok(
      h
        .f32()
        .subarray(b / 4, b / 4 + 247)
        .every((v) => v === 0),
      'reused block is zeroed',
    );
    assert.equal(h.liveBytes(), 990);
    const s = h.alloc(4096, true); // internal scratch is not live
    assert.equal(h.liveBytes(), 990);
    h.free(s);
    h.free(b);
    assert.equal(h.liveBytes(), 0);
  });

  it('reuses a free block of the next size classes for a slightly smaller request', () => {
    const h = newHeap();
    assert.ok(sizeClass(5000) < sizeClass(5500));
    const a = h.alloc(5500);
    h.free(a);
    const b = h.alloc(5000);
    assert.equal(b, a, 'the 5632-byte block serves a 5000-byte request');
    assert.equal(h.liveBytes(), 5000);
    h.free(b);
    const c = h.alloc(5500); // and goes back to its own class
    assert.equal(c, a);
    h.free(c);
    const big = h.alloc(100_000);
    h.free(big);
    assert.notEqual(h.alloc(20_000), big, 'far smaller requests do not take big blocks');
  });

  it('grows the memory and keeps earlier contents; views follow the growth', () => {
    const h = newHeap();
    const a = h.alloc(40);
    h.f32()[a / 4] = 3.5;
    const big = h.alloc(5 << 20); // well past the initial 64 KiB
    assert.ok(h.memory.buffer.byteLength >= big + (5 << 20));
    const f = h.f32();
    assert.equal(f.length * 4, h.memory.buffer.byteLength);
    assert.equal(f[a / 4], 3.5);
    f[big / 4 + (5 << 18) - 1] = 1;
    h.free(big);
    h.free(a);
  });

  it('memory stays flat when the same sizes are allocated again and again', () => {
    const h = newHeap();
    const sizes = [12, 400, 4000, 40_000, 400_000];
    for (let round = 0; round < 50; round++) {
      const ptrs = sizes.map((n) => h.alloc(n));
      for (const p of ptrs.reverse()) h.free(p);
      if (round === 0) continue;
    }
    const reserved = h.reservedBytes();
    for (let round = 0; round < 50; round++) for (const p of sizes.map((n) => h.alloc(n))) h.free(p);
    assert.equal(h.reservedBytes(), reserved);
    assert.equal(h.liveBytes(), 0);
  });

  it('rejects double frees, foreign pointers and bad sizes with clear errors', () => {
    const h = newHeap();
    const a = h.alloc(8);
    h.free(a);
    assert.throws(() => h.free(a), /not an allocated block \(double free\?\)/);
    assert.throws(() => h.free(12345), /not an allocated block/);
    assert.throws(() => h.alloc(-1), /invalid allocation size -1/);
    assert.throws(() => h.alloc(Number.NaN), /invalid allocation size/);
  });
});
