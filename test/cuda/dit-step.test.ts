/**
 * A tiny DiT on the CUDA backend (mock driver) runs entirely on the device: a training step
 * (trainingLoss with the temporal term and known-frame conditioning, then the gradients of every
 * parameter) and a guided sampling velocity leave `fallbacks` empty, and agree with the same
 * program on `ref`. A new op in the DiT's path without a CUDA kernel fails here by name. The routed
 * plans are built on the device (the plan kernels, from the router's group ids) and no routing
 * data comes back to the host; every device plan is freed with the tensors that used it. Where g++
 * is found, every movement op of the step runs movement.cu itself, built for the host.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../../src/backends/backend.js';
import { heldPlans } from '../../src/backends/cuda/attention-op.js';
import { type CudaBackend, createCudaBackend } from '../../src/backends/cuda/backend.js';
import { createRefBackend } from '../../src/backends/ref/index.js';
import { useBackend } from '../../src/backends/registry.js';
import { initVideoDiT } from '../../src/models/dit/dit.js';
import { denoiser, samplingVelocity, trainingLoss } from '../../src/models/dit/objective.js';
import { DIT_PRESETS } from '../../src/models/presets.js';
import { namedParams } from '../../src/nn/params.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { Rng } from '../../src/tensor/random.js';
import { type Tensor, tidy } from '../../src/tensor/tensor.js';
import { moveOffInit } from '../models/micro-dit.js';
import { mockContext } from './helpers.js';
import { hostMovementKernels } from './host-build.js';

const CFG = { ...DIT_PRESETS.tiny, conditioning: true };
const SHAPE = [CFG.latentChannels, 3, 4, 4]; // 3 latent frames of 2x2 patches: 12 tokens

/** One training step and one sampling velocity of the tiny DiT on `be`, read back to the host. */
function step(be: Backend) {
  useBackend(be);
  const rng = new Rng(1);
  const model = initVideoDiT(CFG, rng.fork(1));
  moveOffInit(model, rng.fork(2), 0.1); // adaLN-zero would leave whole paths at zero
  const params = namedParams(model.params as never);
  const out = tidy(() => {
    for (const [, p] of params) p.requiresGrad = true;
    const text = {
      shots: [
        { frames: 2, caption: rng.normal([5, CFG.textDim]) },
        { frames: 1, caption: rng.normal([4, CFG.textDim]) },
      ],
    };
    const r = trainingLoss(denoiser(model), [{ latents: rng.normal(SHAPE), text }], new Rng(5), {
      prediction: 'velocity',
      sampling: { kind: 'uniform' },
      captionDropout: 0,
      temporal: 0.5,
      conditioning: { prob: 1, kinds: ['first'] },
    });
    const grads = gradients(
      r.loss,
      params.map(([, p]) => p),
    ) as Tensor[];
    const train = { loss: r.loss.item(), grads: grads.map((g) => Float32Array.from(g.dataSync())) };
    for (const [, p] of params) p.requiresGrad = false;
    const v = samplingVelocity(denoiser(model), text, 3, 'velocity', SHAPE);
    const velocity = Float32Array.from(v.velocity(rng.normal(SHAPE), 0.7).dataSync());
    v.dispose();
    return { ...train, velocity };
  });
  for (const [, p] of params) p.dispose();
  return { ...out, names: params.map(([n]) => n) };
}

const relErr = (a: Float32Array, b: Float32Array) => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
};

describe('the tiny DiT on the CUDA backend (mock driver)', () => {
  it('a training step and a guided sampling velocity run with no op falling back, as on ref', () => {
    const ref = step(createRefBackend());
    const host = hostMovementKernels();
    const { ctx, driver } = mockContext(typeof host === 'string' ? {} : host);
    const cuda: CudaBackend = createCudaBackend(ctx);
    const got = step(cuda);
    useBackend(createRefBackend());
    const fell = [...cuda.fallbacks].map(([op, n]) => `${op} (${n}x)`);
    assert.deepEqual(fell, [], `ops that fell back to the reference: ${fell.join(', ')}`);
    assert.ok(driver.launches.length > 100, 'the step ran as kernel launches');
    // routing stays on the device: the plans come from the plan kernels (one per routed layer and
    // pass: the training forward, then the guided velocity's passes), and no int32 array (group
    // ids, counts, plans) is read back; gatherRows' one-word index flag is all that is
    const built = driver.launches.filter((l) => l.f.name === 'group_scatter').length;
    assert.ok(
      built >= 2 * CFG.layers && built % CFG.layers === 0,
      `${built} routed plans built on the device`,
    );
    const back = driver.downloads
      .filter((a) => a instanceof Int32Array && a.length > 1)
      .map((a) => a.byteLength / 4);
    assert.deepEqual(back, [], `int32 arrays read back during the step (lengths ${back.join(', ')})`);
    assert.equal(heldPlans(ctx), 0, 'every device plan was freed with its tensors');
    assert.equal(cuda.liveBytes(), 0, 'nothing left on the device');
    assert.ok(
      Math.abs(got.loss - ref.loss) <= 1e-4 * Math.abs(ref.loss),
      `loss ${got.loss} vs ref ${ref.loss}`,
    );
    got.grads.forEach((g, i) => {
      const e = relErr(g, ref.grads[i]);
      assert.ok(e < 1e-3, `gradient of ${got.names[i]}: relative error ${e}`);
    });
    const e = relErr(got.velocity, ref.velocity);
    assert.ok(e < 1e-4, `sampling velocity: relative error ${e}`);
  });
});
