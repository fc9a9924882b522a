import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.js';
import { initLinear } from '../../src/nn/linear.js';
import { loadParams, saveParams } from '../../src/nn/params-file.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray } from '../../src/tensor/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-pf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function model(seed: number, hidden = 3) {
  const rng = new Rng(seed);
  return {
    layers: [initLinear(rng, 2, hidden), initLinear(rng, hidden, 1)],
    ids: fromArray(Int32Array.from([seed, 2]), [2]),
  };
}

describe('params files', () => {
  it('saves a params tree by name and loads it into another tree in place', () => {
    const a = model(1);
    const b = model(2);
    const w = b.layers[0].weight;
    const path = join(dir, 'm.safetensors');
    saveParams(path, a, { metadata: { preset: 'x' } });
    const names = [...readSafetensors(path).tensors.keys()];
    assert.deepEqual(names, ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'ids']);
    assert.deepEqual(loadParams(path, b), { preset: 'x' });
    assert.equal(b.layers[0].weight, w, 'same tensor object, new contents');
    assert.deepEqual(w.dataSync(), a.layers[0].weight.dataSync());
    assert.deepEqual(b.ids.dataSync(), Int32Array.from([1, 2]));
  });

  it('lists missing, unexpected and mis-shaped names, and writes nothing then', () => {
    const path = join(dir, 'm2.safetensors');
    saveParams(path, { ...model(1), extra: fromArray([1], [1]) });
    const other = { layers: model(3, 4).layers, more: fromArray([0], [1]) };
    const before = other.layers[1].bias!.dataSync();
    assert.throws(
      () => loadParams(path, other),
      (e: Error) => {
        assert.match(e.message, /m2\.safetensors does not fit the model/);
        assert.match(e.message, /missing 1: more/);
        assert.match(e.message, /unexpected 2: ids, extra/);
        assert.match(
          e.message,
          /mis-shaped 3: layers\.0\.weight \(file \[3, 2\], model \[4, 2\]\), layers\.0\.bias \(file \[3\], model \[4\]\), layers\.1\.weight/,
        );
        return true;
      },
    );
    assert.deepEqual(other.layers[1].bias!.dataSync(), before);
    // non-strict skips absent names but still refuses wrong shapes
    const c = model(5);
    assert.doesNotThrow(() => loadParams(path, { layers: c.layers }, { strict: false }));
    assert.throws(() => loadParams(path, { layers: model(3, 4).layers }, { strict: false }), /mis-shaped 3/);
  });

  it('stores float params as BF16 when asked', () => {
    const path = join(dir, 'bf.safetensors');
    const a = model(1);
    saveParams(path, a, { dtype: 'BF16' });
    const f = readSafetensors(path);
    assert.equal(f.tensors.get('layers.0.weight')!.dtype, 'BF16');
    assert.equal(f.tensors.get('ids')!.dtype, 'I32');
    const w = a.layers[0].weight.dataSync();
    const r = f.tensors.get('layers.0.weight')!.data;
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(w[i] - r[i]) <= Math.abs(w[i]) * 2 ** -8);
  });
});
