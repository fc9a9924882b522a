/**
 * A small VAE (src/models/vae, the tiny preset) on the CUDA backend (mock driver): a decode, and a
 * training loss with the gradients of every parameter, run with no op falling back to the host
 * (the convolutions through conv.ts's blocked im2col + GEMM, in blocks of a few output rows here)
 * and match the same program on ref. Where g++ is found, conv.cu and movement.cu themselves run,
 * built for the host (host-build.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../../src/backends/backend.js';
import { type CudaBackend, createCudaBackend } from '../../src/backends/cuda/backend.js';
import { createRefBackend } from '../../src/backends/ref/index.js';
import { useBackend } from '../../src/backends/registry.js';
import { VAE_PRESETS } from '../../src/models/vae/config.js';
import { vaeLoss } from '../../src/models/vae/loss.js';
import { decode, initVideoVAE, type VideoVAE } from '../../src/models/vae/vae.js';
import { namedParams } from '../../src/nn/params.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad, type Tensor, tidy } from '../../src/tensor/tensor.js';
import { mockContext } from './helpers.js';
import { hostConvKernels, hostMovementKernels } from './host-build.js';

const Z = [1, VAE_PRESETS.tiny.latentChannels, 2, 2, 3]; // -> video [1, 3, 5, 16, 24]

/** f on a fresh tiny VAE on `be`, and the device bytes left behind once the VAE is disposed. */
function withVae<T>(be: Backend, f: (vae: VideoVAE) => T): T & { left: number } {
  useBackend(be);
  const before = be.liveBytes();
  const vae = initVideoVAE(VAE_PRESETS.tiny, 3);
  const out = tidy(() => f(vae));
  for (const [, p] of namedParams(vae.params as never)) p.dispose();
  vae.latentStats.mean.dispose();
  vae.latentStats.std.dispose();
  const left = be.liveBytes() - before;
  useBackend(createRefBackend());
  return { ...out, left };
}

const decodeOn = (be: Backend) =>
  withVae(be, (vae) =>
    noGrad(() => {
      const v = decode(vae, new Rng(4).normal(Z)).video;
      return { video: Float32Array.from(v.dataSync()), shape: [...v.shape] };
    }),
  );

const trainOn = (be: Backend) =>
  withVae(be, (vae) => {
    const ps = namedParams(vae.params as never).map(([, p]) => p);
    for (const p of ps) p.requiresGrad = true;
    const x = new Rng(5).normal([1, 3, 5, 16, 16]);
    const r = vaeLoss(vae, x, { l1: 1, mse: 1, grad: 0.5, kl: 1e-3, temporal: 0.5 }, new Rng(6));
    const g = gradients(r.loss, ps) as Tensor[];
    for (const p of ps) p.requiresGrad = false;
    return { loss: r.loss.item(), grads: g.map((t) => Float32Array.from(t.dataSync())) };
  });

/** The mock backend, on conv.cu and movement.cu built for the host where g++ is found. */
function cudaBackend(): { cuda: CudaBackend; launched: () => string[] } {
  const conv = hostConvKernels();
  const move = hostMovementKernels();
  const { ctx, driver } = mockContext({
    ...(typeof conv === 'string' ? {} : conv),
    ...(typeof move === 'string' ? {} : move),
  });
  return {
    cuda: createCudaBackend(ctx, { convColFloats: 4096 }),
    launched: () => driver.launches.map((l) => l.f.name),
  };
}

const relErr = (a: Float32Array, b: Float32Array) => {
  let num = 0;
  let den = 0;
  b.forEach((w, i) => {
    num += (a[i] - w) ** 2;
    den += w ** 2;
  });
  return Math.sqrt(num / Math.max(den, 1e-30));
};

const noFallback = (cuda: CudaBackend) => {
  const fell = [...cuda.fallbacks].map(([op, n]) => `${op} (${n}x)`);
  assert.deepEqual(fell, [], `ops that fell back to the reference: ${fell.join(', ')}`);
};

describe('a small VAE on the CUDA backend (mock driver)', () => {
  it('decodes with no op falling back, as on ref', () => {
    const want = decodeOn(createRefBackend());
    const { cuda, launched } = cudaBackend();
    const got = decodeOn(cuda);
    noFallback(cuda);
    assert.ok(launched().includes('conv_im2col'), 'the convolutions ran on the device');
    assert.equal(got.left, 0, 'the decode left nothing on the device');
    assert.deepEqual(got.shape, [1, 3, 5, 16, 24]);
    const e = relErr(got.video, want.video);
    assert.ok(e < 1e-5, `relative error ${e}`);
  });

  it('a training loss and the gradients of every parameter, with no op falling back, as on ref', () => {
    const want = trainOn(createRefBackend());
    const { cuda, launched } = cudaBackend();
    const got = trainOn(cuda);
    noFallback(cuda);
    for (const k of ['conv_col2im', 'conv_add_into']) assert.ok(launched().includes(k), `${k} ran`);
    assert.equal(got.left, 0, 'the step left nothing on the device');
    assert.ok(
      Math.abs(got.loss - want.loss) <= 1e-5 * Math.abs(want.loss),
      `loss ${got.loss} vs ${want.loss}`,
    );
    got.grads.forEach((g, i) => {
      const e = relErr(g, want.grads[i]);
      assert.ok(e < 1e-4, `gradient ${i}: relative error ${e}`);
    });
  });
});
