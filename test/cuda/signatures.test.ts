import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkArgs, parseSignatures, readSignatures } from '../../src/backends/cuda/signatures.js';
import { KERNEL_SRC } from './helpers.js';

describe('cuda kernel signatures', () => {
  it('reads plain and macro-made kernels from the sources', () => {
    const sigs = readSignatures(KERNEL_SRC);
    const fwd = sigs.find((s) => s.name.test('attn_fwd_bf16_w8_d128'));
    assert.ok(fwd, 'the forward kernel made by the FWD macro is found');
    assert.equal(fwd.module, 'attention_fwd');
    assert.deepEqual(fwd.params, [...Array(10).fill('ptr'), 'i32', 'i32', 'f32']);
    const bin = sigs.find((s) => s.name.test('binary_f32'));
    assert.deepEqual(bin?.params, ['ptr', 'ptr', 'ptr', 'i64', 'i32', 'bytes']);
    assert.ok(sigs.length >= 20);
  });
  it('parses parameter kinds', () => {
    const [s] = parseSignatures(
      'm',
      'extern "C" __global__ void __launch_bounds__(256) k(const float* __restrict__ a, int n, float x, long long m, unsigned long long seed, S s) {}',
    );
    assert.deepEqual(s.params, ['ptr', 'i32', 'f32', 'i64', 'i64', 'bytes']);
  });
  it('rejects launches whose arguments do not match', () => {
    const sigs = parseSignatures('m', 'extern "C" __global__ void k(float* a, int n) {}');
    checkArgs(sigs, 'm', 'k', [{ ptr: 1 }, { i32: 2 }]);
    assert.throws(
      () => checkArgs(sigs, 'm', 'k', [{ ptr: 1 }]),
      /takes \(ptr, i32\) but was launched with \(ptr\)/,
    );
    assert.throws(() => checkArgs(sigs, 'm', 'k', [{ ptr: 1 }, { f32: 2 }]), /takes/);
    assert.throws(() => checkArgs(sigs, 'm', 'nope', []), /no kernel m.nope/);
  });
});
