/**
 * Growing a trained DiT deeper (models/dit/grow.ts): the grown network computes exactly what the
 * source did, and its new blocks still receive gradient (so the extra depth can learn).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ropeFor } from '../../src/attention/visual-attention.js';
import { initVideoDiT, type VideoDiT, videoDiT } from '../../src/models/dit/dit.js';
import { growDiT } from '../../src/models/dit/grow.js';
import { namedParams } from '../../src/nn/params.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { mul, sum } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, tidy } from '../../src/tensor/tensor.js';
import { MICRO_DIT, microInput, moveOffInit, weightsOf } from './micro-dit.js';

const CFG = MICRO_DIT;

/** A "trained" source: every tensor moved off its initialisation (the gates and head included). */
function trainedSource(rng: Rng): VideoDiT {
  const model = initVideoDiT(CFG, rng.fork(1));
  moveOffInit(model, rng.fork(2), 0.3);
  return model;
}

test('a DiT grown from 2 to 4 blocks gives exactly the source output, and its new blocks get gradient', () =>
  tidy(() => {
    const rng = new Rng(5);
    const source = trainedSource(rng.fork(1));
    const grown = initVideoDiT({ ...CFG, layers: 4 }, rng.fork(2));
    assert.equal(growDiT(grown, weightsOf(source)), 2);
    const input = microInput(rng.fork(3), 2, 0.7);
    const a = videoDiT(source, input).velocity.dataSync() as Float32Array;
    const b = videoDiT(grown, input).velocity.dataSync() as Float32Array;
    assert.ok(a.some((v) => v !== 0));
    assert.deepEqual(Array.from(b), Array.from(a));

    const proj = rng.fork(4).normal([2, 2, 4, 4]);
    const named = new Map(namedParams(grown.params as never));
    const chosen = ['blocks.2.selfAttn.o.weight', 'blocks.3.ffn.fc2.weight', 'blocks.3.crossAttn.o.weight'];
    const params = chosen.map((n) => named.get(n)!);
    for (const p of params) p.requiresGrad = true;
    const grads = gradients(sum(mul(videoDiT(grown, input).velocity, proj)), params);
    grads.forEach((g, i) => {
      const norm = Math.hypot(...(g!.dataSync() as Float32Array));
      assert.ok(norm > 1e-6, `${chosen[i]} gets no gradient (norm ${norm})`);
    });
  }));

test('a DiT grown to a wider feed-forward layer gives exactly the source output; its new units learn', () =>
  tidy(() => {
    const rng = new Rng(8);
    const source = trainedSource(rng.fork(1));
    const wide = initVideoDiT({ ...CFG, layers: 3, ffnDim: CFG.ffnDim + 16 }, rng.fork(2));
    assert.equal(growDiT(wide, weightsOf(source)), 2);
    const input = microInput(rng.fork(3), 2, 0.7);
    const a = videoDiT(source, input).velocity.dataSync() as Float32Array;
    const b = videoDiT(wide, input).velocity.dataSync() as Float32Array;
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(a[i])), `at ${i}`);

    const fc2 = new Map(namedParams(wide.params as never)).get('blocks.0.ffn.fc2.weight')!;
    const trained = weightsOf(source).get('blocks.0.ffn.fc2.weight')!;
    const w = fc2.dataSync() as Float32Array;
    const H = CFG.ffnDim + 16;
    assert.deepEqual(
      Array.from(w.subarray(H, H + CFG.ffnDim)),
      Array.from(trained.subarray(CFG.ffnDim, 2 * CFG.ffnDim)),
    );
    assert.ok(
      w.subarray(H + CFG.ffnDim, 2 * H).every((v) => v === 0),
      'new units start silent',
    );
    fc2.requiresGrad = true;
    const proj = rng.fork(4).normal([2, 2, 4, 4]);
    const [g] = gradients(sum(mul(videoDiT(wide, input).velocity, proj)), [fc2]);
    const gNew = (g!.dataSync() as Float32Array).subarray(H + CFG.ffnDim, 2 * H);
    assert.ok(Math.hypot(...gNew) > 1e-6, 'the new units get gradient');
  }));

test('a DiT grown with a cell head gives exactly the source output, and the head learns', () =>
  tidy(() => {
    const rng = new Rng(9);
    const source = trainedSource(rng.fork(1));
    const withCells = initVideoDiT({ ...CFG, cellHead: { hidden: 4, features: 3 } }, rng.fork(2));
    assert.equal(growDiT(withCells, weightsOf(source)), 2);
    const input = microInput(rng.fork(3), 2, 0.7);
    const a = videoDiT(source, input).velocity.dataSync() as Float32Array;
    const b = videoDiT(withCells, input).velocity.dataSync() as Float32Array;
    assert.deepEqual(Array.from(b), Array.from(a));
    const conv2 = new Map(namedParams(withCells.params as never)).get('cellHead.conv2.weight')!;
    conv2.requiresGrad = true;
    const proj = rng.fork(4).normal([2, 2, 4, 4]);
    const [g] = gradients(sum(mul(videoDiT(withCells, input).velocity, proj)), [conv2]);
    assert.ok(Math.hypot(...(g!.dataSync() as Float32Array)) > 1e-6, 'the cell head gets gradient');
  }));

test('growDiT refuses a source that does not fit: deeper, or other widths', () =>
  tidy(() => {
    const rng = new Rng(6);
    const source = trainedSource(rng.fork(1));
    assert.throws(
      () => growDiT(initVideoDiT({ ...CFG, layers: 1 }, rng.fork(2)), weightsOf(source)),
      /2 blocks, more than the model's 1/,
    );
    assert.throws(
      () => growDiT(initVideoDiT({ ...CFG, dim: 24 }, rng.fork(4)), weightsOf(source)),
      /does not fit the model/,
    );
    assert.throws(
      () => growDiT(initVideoDiT({ ...CFG, layers: 3, ffnDim: 16 }, rng.fork(3)), weightsOf(source)),
      /does not fit the model: .*ffn\.fc1\.weight/,
    );
  }));

test('a model without the routed branch loads a MoGA source but its routers; one with it needs them', () =>
  tidy(() => {
    const rng = new Rng(7);
    const source = trainedSource(rng.fork(1));
    const w = weightsOf(source);
    const routers = [...w.keys()].filter((n) => n.includes('.selfAttn.router.'));
    assert.ok(routers.length > 0, 'the micro DiT has routers');
    const localCfg = { ...CFG, attention: { ...CFG.attention, branches: ['window', 'frame'] as const } };
    const local = initVideoDiT(localCfg as typeof CFG, rng.fork(2));
    assert.equal(growDiT(local, w), CFG.layers);
    const q = 'blocks.1.selfAttn.q.weight';
    const loaded = new Map(namedParams(local.params as never)).get(q)!.dataSync();
    assert.deepEqual(Array.from(loaded), Array.from(w.get(q)!), 'shared self-attention weights copied');
    const withoutRouters = new Map([...w].filter(([n]) => !routers.includes(n)));
    assert.throws(
      () => growDiT(initVideoDiT(CFG, rng.fork(3)), withoutRouters),
      /does not fit the model: missing blocks\.\d+\.selfAttn\.router/,
    );
  }));

test('a DiT grown to 1x1x1 patches paints each cell with its source token mean, where the input is flat', () =>
  tidy(() => {
    const rng = new Rng(12);
    const source = trainedSource(rng.fork(1)); // 1x2x2 patches
    const fine = initVideoDiT({ ...CFG, patch: [1, 1, 1], ropeScale: 0.5 }, rng.fork(2));
    assert.equal(growDiT(fine, weightsOf(source)), 2);
    // a latent constant over frames and cells and one shot: every token is the same, so attention
    // returns its value whatever the positions and the number of tokens, and only the patch
    // arithmetic remains
    const [C, F, H, W] = [2, 2, 4, 4];
    const level = [0.7, -1.3];
    const input = { ...microInput(rng.fork(3), F, 0.7) };
    input.text = { ...input.text, shots: [{ frames: F, caption: input.text.shots[0].caption }] }; // one shot
    input.latents = fromArray(
      Float32Array.from({ length: C * F * H * W }, (_, i) => level[Math.floor(i / (F * H * W))]),
      [C, F, H, W],
    );
    const a = videoDiT(source, input).velocity.dataSync() as Float32Array;
    const b = videoDiT(fine, input).velocity.dataSync() as Float32Array;
    let spread = 0;
    for (let c = 0; c < C; c++)
      for (let f = 0; f < F; f++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            const at = (yy: number, xx: number) => a[((c * F + f) * H + yy) * W + xx];
            const [y0, x0] = [y & ~1, x & ~1];
            const mean = (at(y0, x0) + at(y0, x0 + 1) + at(y0 + 1, x0) + at(y0 + 1, x0 + 1)) / 4;
            spread = Math.max(spread, Math.abs(at(y, x) - mean));
            const got = b[((c * F + f) * H + y) * W + x];
            assert.ok(
              Math.abs(got - mean) <= 1e-5 * (1 + Math.abs(mean)),
              `cell ${[c, f, y, x]}: ${got} vs ${mean}`,
            );
          }
    assert.ok(spread > 1e-3, 'the source paints inside its patches, so the mean is a real check');
    assert.throws(
      () => growDiT(initVideoDiT({ ...CFG, patch: [1, 2, 1] }, rng.fork(4)), weightsOf(source)),
      /1x1x1 patches/,
    );
  }));

test('ropeScale places grid cells at scaled rotary positions', () =>
  tidy(() => {
    const half = ropeFor({ frames: 2, height: 4, width: 6 }, 12, 0.5);
    const whole = ropeFor({ frames: 2, height: 2, width: 3 }, 12);
    const [hc, wc] = [half.cos.dataSync() as Float32Array, whole.cos.dataSync() as Float32Array];
    const [hs, ws] = [half.sin.dataSync() as Float32Array, whole.sin.dataSync() as Float32Array];
    // cell (f, 2y, 2x) of the fine grid sits at token (f, y, x) of the coarse one
    for (let f = 0; f < 2; f++)
      for (let y = 0; y < 2; y++)
        for (let x = 0; x < 3; x++) {
          const i = (f * 4 + 2 * y) * 6 + 2 * x;
          const j = (f * 2 + y) * 3 + x;
          for (let d = 0; d < 6; d++) {
            assert.ok(Math.abs(hc[i * 6 + d] - wc[j * 6 + d]) < 1e-6);
            assert.ok(Math.abs(hs[i * 6 + d] - ws[j * 6 + d]) < 1e-6);
          }
        }
    // and an odd cell half-way: not a token position of the coarse grid
    const odd = (0 * 4 + 1) * 6 + 1;
    assert.ok(Math.abs(hs[odd * 6 + 5] - ws[0 * 6 + 5]) > 1e-4);
  }));
