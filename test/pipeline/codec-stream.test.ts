/**
 * The codecs' streaming encoders (pipeline/codec.ts `encoder()`): a video pushed in chunks (1 + 4k
 * frames, then 4k) gives the latent of encoding it whole, for the VAE (causal cache) and the pool
 * stand-in (which must place later chunks' blocks at their stream position); `roundTripVideo`
 * streams through both the encoder and the decoder.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roundTripVideo } from '../../src/eval/gen.js';
import { VAE_PRESETS } from '../../src/models/vae/config.js';
import { initVideoVAE } from '../../src/models/vae/vae.js';
import { type LatentCodec, vaeCodec } from '../../src/pipeline/codec.js';
import { toRgbFrames } from '../../src/pipeline/generate.js';
import { poolCodec } from '../../src/pipeline/pool-codec.js';
import { framesToTensor } from '../../src/tensor/frames.js';
import { concat, sliceAxis } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { tidy } from '../../src/tensor/tensor.js';

const [F, H, W] = [17, 16, 32];

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'same size');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function chunkedEqualsWhole(codec: LatentCodec, tol: number) {
  tidy(() => {
    const video = new Rng(7).uniform([3, F, H, W], -1, 1);
    const whole = codec.encode(video);
    assert.deepEqual(whole.shape, [codec.channels, 5, H / 8, W / 8]);
    const enc = codec.encoder();
    // frames 0..4 (latent frames 0-1), 5..12 (2-3), 13..16 (4)
    const parts = [
      [0, 5],
      [5, 13],
      [13, 17],
    ].map(([a, b]) => enc.push(sliceAxis(video, 1, a, b)));
    assert.deepEqual(
      parts.map((p) => p.shape[1]),
      [2, 2, 1],
      'latent frames per chunk',
    );
    const d = maxDiff(concat(parts, 1).dataSync() as Float32Array, whole.dataSync() as Float32Array);
    assert.ok(d <= tol, `${codec.kind}: chunked and whole latents differ by ${d}`);
    enc.close();
    if (codec.kind === 'vae')
      assert.throws(() => enc.push(sliceAxis(video, 1, 0, 1)), /encoder used after close/);
  });
}

test('pool codec: a video encoded in chunks is the video encoded whole', () => {
  chunkedEqualsWhole(poolCodec(), 0);
  tidy(() => {
    const enc = poolCodec().encoder();
    enc.push(new Rng(1).uniform([3, 1, H, W], -1, 1));
    assert.throws(
      () => enc.push(new Rng(1).uniform([3, 3, H, W], -1, 1)),
      /a chunk after the first needs a multiple of 4 frames, got 3/,
    );
  });
});

test('vae codec: a video encoded in chunks is the video encoded whole (the causal cache carries over)', () => {
  const codec = vaeCodec(initVideoVAE(VAE_PRESETS.tiny, 3));
  try {
    chunkedEqualsWhole(codec, 1e-4);
  } finally {
    codec.dispose();
  }
});

test('roundTripVideo: streamed in chunks, it equals the whole video encoded then decoded', () => {
  const codec = vaeCodec(initVideoVAE(VAE_PRESETS.tiny, 3));
  try {
    tidy(() => {
      const frames = toRgbFrames(new Rng(9).uniform([3, 41, H, W], -1, 1)); // 11 latent frames: 3 chunks
      const dec = codec.decoder();
      const want = toRgbFrames(dec.push(codec.encode(framesToTensor(frames, W, H, 'CFHW'))));
      dec.close();
      const got = roundTripVideo(codec, frames, W, H);
      assert.equal(got.length, 41);
      let off = 0;
      for (let f = 0; f < 41; f++)
        for (let i = 0; i < got[f].length; i++) off = Math.max(off, Math.abs(got[f][i] - want[f][i]));
      assert.ok(off <= 1, `frames differ by up to ${off} levels`);
    });
  } finally {
    codec.dispose();
  }
});
