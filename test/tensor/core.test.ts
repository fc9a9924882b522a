import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getBackend } from '../../src/backends/registry.js';
import {
  add,
  arange,
  fromArray,
  gatherRows,
  gradients,
  keep,
  logsumexp,
  matmul,
  mean,
  mul,
  noGrad,
  pad,
  philox,
  Rng,
  reshape,
  softmax,
  sum,
  tanh,
  tidy,
  valueAndGrad,
} from '../../src/tensor/index.js';

describe('creation and read-back', () => {
  test('fromArray round-trips and checks the element count', async () => {
    const t = fromArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    assert.deepEqual([...(await t.data())], [1, 2, 3, 4, 5, 6]);
    assert.throws(() => fromArray(new Float32Array(5), [2, 3]), /5 elements but shape \[2, 3\] needs 6/);
    assert.equal(arange(4).dtype, 'int32');
  });
  test('a disposed tensor cannot be used', () => {
    const t = fromArray([1, 2], [2]);
    t.dispose();
    assert.throws(() => t.dataSync(), /disposed/);
  });
  test('shape errors name the op and shapes', () => {
    const a = fromArray(new Float32Array(6), [2, 3]);
    const b = fromArray(new Float32Array(8), [2, 4]);
    assert.throws(() => add(a, b), /add: shapes \[2, 3\] and \[2, 4\] do not broadcast/);
    assert.throws(() => matmul(a, a), /inner sizes differ/);
    assert.throws(() => reshape(a, [4, 2]), /cannot reshape/);
    assert.throws(
      () =>
        pad(a, [
          [0, 0],
          [-1, 0],
        ]),
      /pad: pad needs \(before, after\) pairs of integers >= 0, got \[\[0,0\],\[-1,0\]\]/,
    );
    assert.throws(
      () =>
        pad(a, [
          [0, 0],
          [0.5, 0],
        ]),
      /integers >= 0/,
    );
  });
  test('gather with an out-of-range index is an error, not a wild read', () => {
    const x = fromArray(new Float32Array(6), [3, 2]);
    assert.throws(
      () => gatherRows(x, fromArray(new Int32Array([0, 3]), [2])),
      /index 3 at position 1 is out of range/,
    );
  });
});

describe('random numbers', () => {
  test('Philox-4x32-10 matches the Random123 known answer', () => {
    const out = new Uint32Array(4);
    philox(0, 0, 0, 0, out);
    assert.deepEqual([...out], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  });
  test('same seed and offset give the same numbers; state resumes the stream', () => {
    const a = new Rng(42);
    const first = a.normalArray(10);
    const second = a.normalArray(10);
    const b = new Rng(42);
    assert.deepEqual(b.normalArray(10), first);
    const resumed = new Rng(a.state().seed, 0);
    resumed.offset = b.offset;
    assert.deepEqual(resumed.normalArray(10), second);
    assert.notDeepEqual(new Rng(43).normalArray(10), first);
  });
  test('normals have mean 0 and variance 1', () => {
    const x = new Rng(7).normalArray(20000);
    const m = x.reduce((s, v) => s + v, 0) / x.length;
    const v = x.reduce((s, u) => s + (u - m) ** 2, 0) / x.length;
    assert.ok(Math.abs(m) < 0.03, `mean ${m}`);
    assert.ok(Math.abs(v - 1) < 0.04, `variance ${v}`);
  });
});

describe('composites', () => {
  test('softmax and logsumexp agree with a direct float64 computation', () => {
    const data = [1, 2, 3, -1, 1000, 1001];
    const x = fromArray(data, [2, 3]);
    const s = softmax(x).dataSync();
    const l = logsumexp(x).dataSync();
    for (let r = 0; r < 2; r++) {
      const row = data.slice(r * 3, r * 3 + 3);
      const m = Math.max(...row);
      const z = row.reduce((acc, v) => acc + Math.exp(v - m), 0);
      row.forEach((v, j) => assert.ok(Math.abs(s[r * 3 + j] - Math.exp(v - m) / z) < 1e-6));
      assert.ok(Math.abs(l[r] - (m + Math.log(z))) < 1e-4);
    }
  });
  test('gradients through a composite: d/dx mean(tanh(x)^2)', () => {
    const xs = [0.3, -0.7, 1.2];
    const { value, grads } = valueAndGrad((x) => mean(mul(tanh(x), tanh(x))))(fromArray(xs, [3]));
    const expect = xs.map((v) => (2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)) / 3);
    assert.ok(Math.abs(value.item() - xs.reduce((s, v) => s + Math.tanh(v) ** 2, 0) / 3) < 1e-6);
    grads[0]!.dataSync().forEach((g, i) => assert.ok(Math.abs(g - expect[i]) < 1e-6));
  });
  test('a tensor used twice accumulates both gradient paths', () => {
    const x = fromArray([2, 3], [2]);
    x.requiresGrad = true;
    const [g] = gradients(sum(add(mul(x, x), x)), [x]);
    assert.deepEqual([...g!.dataSync()], [5, 7]);
  });
  test('noGrad records nothing', () => {
    const x = fromArray([1], [1]);
    x.requiresGrad = true;
    const y = noGrad(() => mul(x, 2));
    assert.equal(y.requiresGrad, false);
    assert.throws(() => gradients(y, [x]), /does not depend/);
  });
});

describe('memory scopes', () => {
  test('tidy frees intermediates and keeps the result; keep() escapes', () => {
    const b = getBackend();
    const before = b.liveBytes();
    let kept: ReturnType<typeof fromArray> | undefined;
    const r = tidy(() => {
      const x = fromArray(new Float32Array(100), [100]);
      kept = keep(add(x, 1));
      return sum(mul(x, x));
    });
    assert.equal(b.liveBytes() - before, 4 + 400);
    r.dispose();
    kept!.dispose();
    assert.equal(b.liveBytes(), before);
  });
  test('a 1,000-step forward+backward loop keeps live bytes flat', () => {
    const b = getBackend();
    const w = fromArray(new Rng(1).normalArray(16 * 16), [16, 16]);
    w.requiresGrad = true;
    const x = fromArray(new Rng(2).normalArray(8 * 16), [8, 16]);
    const step = () =>
      tidy(() => {
        const h = tanh(matmul(x, w));
        const loss = mean(mul(h, h));
        const [g] = gradients(loss, [w]);
        return g!.dataSync()[0];
      });
    for (let i = 0; i < 10; i++) step();
    const start = b.liveBytes();
    for (let i = 0; i < 1000; i++) step();
    assert.equal(b.liveBytes(), start);
    w.dispose();
    x.dispose();
  });
});
