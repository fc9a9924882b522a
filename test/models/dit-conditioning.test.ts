/**
 * Known-frame conditioning (issue 18): the DiT's optional extra input (models/dit/dit.ts
 * `GivenFrames`) and the sampler's rule for given frames (diffusion/sample.ts `given`).
 *   - a model without `conditioning` computes what it computed before this existed (a checksum
 *     taken at the commit before the change);
 *   - a conditioned model grown from an unconditioned one gives the source's output whatever is
 *     given, until its zero conditioning columns move;
 *   - the sampler keeps exactly the given latent frames and leaves the others to the model.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sample } from '../../src/diffusion/sample.js';
import { givenMask, initVideoDiT, videoDiT } from '../../src/models/dit/dit.js';
import { growDiT } from '../../src/models/dit/grow.js';
import { mul, sub } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, tidy } from '../../src/tensor/tensor.js';
import { crc32 } from '../../src/video/png.js';
import { MICRO_DIT, microInput, moveOffInit, weightsOf } from './micro-dit.js';

const bytesCrc = (a: Float32Array) => crc32(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

test('without dit.conditioning the DiT is the model of before: same parameters, same output bits', () =>
  tidy(() => {
    const rng = new Rng(11);
    const model = initVideoDiT(MICRO_DIT, rng.fork(1));
    moveOffInit(model, rng.fork(2), 0.3);
    assert.deepEqual(model.params.patchEmbed.weight.shape, [16, 2 * 1 * 2 * 2], 'patch embedding shape');
    const v = videoDiT(model, microInput(rng.fork(3))).velocity.dataSync() as Float32Array;
    // taken at ee54a8f (before conditioning existed) with this same test body
    assert.equal(bytesCrc(v), 0x4758f6aa, `velocity checksum ${bytesCrc(v).toString(16)}`);
    const off = initVideoDiT({ ...MICRO_DIT, conditioning: false }, rng.fork(1));
    assert.deepEqual(off.params.patchEmbed.weight.shape, [16, 8], 'conditioning: false is the same model');
  }));

test('a conditioned DiT grown from an unconditioned one gives identical output with any given frames', () =>
  tidy(() => {
    const rng = new Rng(3);
    const source = initVideoDiT(MICRO_DIT, rng.fork(1));
    moveOffInit(source, rng.fork(2), 0.3);
    const grown = initVideoDiT({ ...MICRO_DIT, conditioning: true }, rng.fork(4));
    assert.deepEqual(grown.params.patchEmbed.weight.shape, [16, (2 * 2 + 1) * 4], 'widened patch embedding');
    growDiT(grown, weightsOf(source));
    const input = microInput(rng.fork(5));
    const want = Array.from(videoDiT(source, input).velocity.dataSync() as Float32Array);
    assert.ok(
      want.some((x) => x !== 0),
      'the source output is not trivially zero',
    );
    for (const frames of [
      [0, 0, 0, 0],
      [1, 0, 0, 0],
      [1, 1, 0, 1],
      [1, 1, 1, 1],
    ]) {
      const given = { latent: rng.normal([2, 4, 4, 4], 3), frames };
      const got = Array.from(videoDiT(grown, { ...input, given }).velocity.dataSync() as Float32Array);
      assert.deepEqual(got, want, `grown model with frames ${frames} differs from the source`);
    }
    // a fresh conditioned model is its unconditioned twin (same seed) too
    const fresh = initVideoDiT({ ...MICRO_DIT, conditioning: true }, rng.fork(1));
    const twin = initVideoDiT(MICRO_DIT, rng.fork(1));
    const g = { latent: rng.normal([2, 4, 4, 4]), frames: [1, 0, 1, 0] };
    assert.deepEqual(
      Array.from(videoDiT(fresh, { ...input, given: g }).velocity.dataSync() as Float32Array),
      Array.from(videoDiT(twin, input).velocity.dataSync() as Float32Array),
      'a fresh conditioned model differs from the unconditioned one of its seed',
    );
    // once the conditioning columns move, the given frames matter, and only their masked values
    moveOffInit(grown, rng.fork(6), 0.3);
    const lat = rng.normal([2, 4, 4, 4]);
    const out = (latent: typeof lat, frames: number[]) =>
      Array.from(
        videoDiT(grown, { ...input, given: { latent, frames } }).velocity.dataSync() as Float32Array,
      );
    const a = out(lat, [1, 0, 0, 0]);
    assert.notDeepEqual(a, out(lat, [1, 1, 0, 0]), 'the mask is read');
    // change the latent on frames 1..3 only: off the mask, so the output must not change
    const other = rng.normal([2, 4, 4, 4]);
    const lv = lat.dataSync() as Float32Array;
    const mixed = fromArray(
      (other.dataSync() as Float32Array).map((v, i) => (Math.floor(i / 16) % 4 === 0 ? lv[i] : v)),
      [2, 4, 4, 4],
    ); // lat on latent frame 0, `other` elsewhere
    assert.deepEqual(out(mixed, [1, 0, 0, 0]), a, 'values on frames that are not given were read');
    assert.notDeepEqual(out(other, [1, 0, 0, 0]), a, 'the given frame values are read');
  }));

test('an unconditioned DiT refuses given frames', () =>
  tidy(() => {
    const rng = new Rng(1);
    const model = initVideoDiT(MICRO_DIT, rng.fork(1));
    assert.throws(
      () =>
        videoDiT(model, {
          ...microInput(rng),
          given: { latent: rng.normal([2, 4, 4, 4]), frames: [1, 0, 0, 0] },
        }),
      /no conditioning input \(dit.conditioning is not set\)/,
    );
  }));

test('the sampler keeps given latent frames at (1 - t) known + t e each step and exactly at t = 0, and leaves the others alone', () =>
  tidy(() => {
    const rng = new Rng(7);
    const shape = [2, 5, 2, 3];
    const known = rng.normal(shape);
    const frames = [1, 0, 0, 1, 0];
    const mask = givenMask(frames, shape);
    // a velocity that works frame by frame: the free frames' path does not depend on the kept ones
    const velocity = (x: ReturnType<Rng['normal']>, t: number) => mul(sub(x, 0.25), 1 + t);
    const noise = new Rng(9).normal(shape);
    const steps = 4;
    const per = 2 * 2 * 3; // values per latent frame... per channel: [F, H, W] = 5 x 2 x 3
    const frameOf = (i: number) => Math.floor(i / 6) % 5;
    const k = known.dataSync() as Float32Array;
    const e = noise.dataSync() as Float32Array;
    const seen: number[] = [];
    const free = Array.from(
      sample({ velocity, shape, sampler: { kind: 'euler' }, steps, noise }).dataSync() as Float32Array,
    );
    const got = Array.from(
      sample({
        velocity,
        shape,
        sampler: { kind: 'euler' },
        steps,
        noise,
        given: { latent: known, mask },
        onStep: (info, x) => {
          const xs = x.dataSync() as Float32Array;
          const t = info.tNext;
          for (let i = 0; i < xs.length; i++)
            if (frames[frameOf(i)])
              assert.ok(
                Math.abs(xs[i] - ((1 - t) * k[i] + t * e[i])) < 1e-6,
                `step ${info.step}: value ${i} is ${xs[i]}, not the known latent noised to t ${t}`,
              );
          seen.push(info.step);
        },
      }).dataSync() as Float32Array,
    );
    assert.equal(per, 12, 'test geometry');
    assert.deepEqual(seen, [0, 1, 2, 3], 'every step was checked');
    got.forEach((v, i) => {
      if (frames[frameOf(i)])
        assert.equal(v, k[i], `given frame ${frameOf(i)}: value ${i} is not the known latent`);
      else
        assert.equal(
          v,
          free[i],
          `free frame ${frameOf(i)}: value ${i} differs from the unconditioned sample`,
        );
    });
    assert.ok(
      got.some((v, i) => !frames[frameOf(i)] && Math.abs(v - k[i]) > 1e-3),
      'the free frames were sampled, not copied from the known latent',
    );
  }));
