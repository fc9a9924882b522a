/**
 * A small VAE decode (src/models/vae, the tiny preset) on the CUDA backend (mock driver) runs with
 * no op falling back to the host (its convolutions through conv.ts's blocked im2col + GEMM, in
 * blocks of a few output rows here) and matches the same decode on ref. Where g++ is found,
 * conv.cu and movement.cu themselves run, built for the host (host-build.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../../src/backends/backend.js';
import { type CudaBackend, createCudaBackend } from '../../src/backends/cuda/backend.js';
import { createRefBackend } from '../../src/backends/ref/index.js';
import { useBackend } from '../../src/backends/registry.js';
import { VAE_PRESETS } from '../../src/models/vae/config.js';
import { decode, initVideoVAE } from '../../src/models/vae/vae.js';
import { namedParams } from '../../src/nn/params.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad, tidy } from '../../src/tensor/tensor.js';
import { mockContext } from './helpers.js';
import { hostConvKernels, hostMovementKernels } from './host-build.js';

const Z = [1, VAE_PRESETS.tiny.latentChannels, 2, 2, 3]; // -> video [1, 3, 5, 16, 24]

/** The decode on `be`, and the device bytes it left behind (initVideoVAE's own leftovers excluded). */
function decodeOn(be: Backend): { video: Float32Array; shape: number[]; left: number } {
  useBackend(be);
  const vae = initVideoVAE(VAE_PRESETS.tiny, 3);
  const before = be.liveBytes();
  const out = noGrad(() =>
    tidy(() => {
      const v = decode(vae, new Rng(4).normal(Z)).video;
      return { video: Float32Array.from(v.dataSync()), shape: [...v.shape] };
    }),
  );
  const left = be.liveBytes() - before;
  for (const [, p] of namedParams(vae.params as never)) p.dispose();
  vae.latentStats.mean.dispose();
  vae.latentStats.std.dispose();
  useBackend(createRefBackend());
  return { ...out, left };
}

describe('a small VAE decode on the CUDA backend (mock driver)', () => {
  it('runs with no op falling back, as on ref', () => {
    const want = decodeOn(createRefBackend());
    const conv = hostConvKernels();
    const move = hostMovementKernels();
    const { ctx, driver } = mockContext({
      ...(typeof conv === 'string' ? {} : conv),
      ...(typeof move === 'string' ? {} : move),
    });
    const cuda: CudaBackend = createCudaBackend(ctx, { convColFloats: 4096 });
    const got = decodeOn(cuda);
    const fell = [...cuda.fallbacks].map(([op, n]) => `${op} (${n}x)`);
    assert.deepEqual(fell, [], `ops that fell back to the reference: ${fell.join(', ')}`);
    assert.ok(
      driver.launches.some((l) => l.f.name === 'conv_im2col'),
      'the convolutions ran on the device',
    );
    assert.equal(got.left, 0, 'the decode left nothing on the device');
    assert.deepEqual(got.shape, [1, 3, 5, 16, 24]);
    let num = 0;
    let den = 0;
    want.video.forEach((w, i) => {
      num += (got.video[i] - w) ** 2;
      den += w ** 2;
    });
    assert.ok(den > 0 && Math.sqrt(num / den) < 1e-5, `relative error ${Math.sqrt(num / den)}`);
  });
});
