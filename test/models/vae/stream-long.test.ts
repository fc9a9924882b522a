/**
 * A minute of 24 fps video (1,441 frames = 361 latent frames) decoded chunk by chunk equals the
 * whole-clip decode within 1e-4, and the backend's peak live bytes of the chunked decode do not grow
 * with clip length (measured on 361 and 1,441 frames), while the whole-clip decode's do.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../../../src/backends/backend.js';
import { createRefBackend } from '../../../src/backends/ref/index.js';
import { useBackend } from '../../../src/backends/registry.js';
import { VAE_PRESETS } from '../../../src/models/vae/config.js';
import { disposeStreamState, newStreamState } from '../../../src/models/vae/layers.js';
import { decode, initVideoVAE, type VideoVAE } from '../../../src/models/vae/vae.js';
import { Rng } from '../../../src/tensor/random.js';
import { fromArray, noGrad, tidy } from '../../../src/tensor/tensor.js';

/** The ref backend, recording the peak of its live bytes at every allocation. */
function peakTracking(): Backend & { peak(): number; resetPeak(): void } {
  const ref = createRefBackend();
  let peak = 0;
  return {
    ...ref,
    name: 'ref',
    alloc(dtype, size) {
      const s = ref.alloc(dtype, size);
      peak = Math.max(peak, ref.liveBytes());
      return s;
    },
    peak: () => peak,
    resetPeak: () => (peak = ref.liveBytes()),
  };
}

const Z = VAE_PRESETS.tiny.latentChannels;

/** Latent [1, Z, n, 1, 1] as a host array (so the clip itself is not in backend memory). */
function latent(n: number): Float32Array {
  const r = new Rng(42).normal([Z * n]);
  const a = r.dataSync() as Float32Array;
  r.dispose();
  return a;
}

/** [Z, n] host latent -> latent frames [t0, t1) as [1, Z, t1 - t0, 1, 1]. */
function chunkOf(z: Float32Array, n: number, t0: number, t1: number): Float32Array {
  const out = new Float32Array(Z * (t1 - t0));
  for (let c = 0; c < Z; c++) out.set(z.subarray(c * n + t0, c * n + t1), c * (t1 - t0));
  return out;
}

function wholeDecode(vae: VideoVAE, z: Float32Array, n: number): Float32Array {
  return noGrad(() =>
    tidy(() => decode(vae, fromArray(z, [1, Z, n, 1, 1])).video.dataSync() as Float32Array),
  );
}

/** Decodes `chunk` latent frames at a time; checks each chunk against `want` [3, F, 8, 8] as it goes. */
function streamDecode(
  vae: VideoVAE,
  z: Float32Array,
  n: number,
  chunk: number,
  want: Float32Array | null,
): number {
  const F = 1 + 4 * (n - 1);
  const plane = 64;
  let st = newStreamState();
  let at = 0;
  let worst = 0;
  for (let t0 = 0; t0 < n; t0 += chunk) {
    const t1 = Math.min(n, t0 + chunk);
    const r = noGrad(() =>
      tidy(() => {
        const d = decode(vae, fromArray(chunkOf(z, n, t0, t1), [1, Z, t1 - t0, 1, 1]), st);
        return { y: d.video, st: d.state! };
      }),
    );
    disposeStreamState(st);
    st = r.st;
    const y = r.y.dataSync();
    const f = r.y.shape[2];
    r.y.dispose();
    if (want)
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < f * plane; i++)
          worst = Math.max(worst, Math.abs(y[c * f * plane + i] - want[(c * F + at) * plane + i]));
    at += f;
  }
  disposeStreamState(st);
  assert.equal(at, F);
  return worst;
}

describe('VideoVAE streaming over a minute of video', () => {
  it('decodes 1,441 frames chunk by chunk equal to one pass, with flat peak memory', () => {
    const be = peakTracking();
    useBackend(be);
    try {
      const vae = initVideoVAE(VAE_PRESETS.tiny, 5);
      const peaks: Record<string, number> = {};
      for (const n of [91, 361]) {
        const z = latent(n);
        be.resetPeak();
        const whole = wholeDecode(vae, z, n);
        peaks[`whole${n}`] = be.peak();
        assert.equal(whole.length, 3 * (1 + 4 * (n - 1)) * 64);
        be.resetPeak();
        const worst = streamDecode(vae, z, n, 1, n === 361 ? whole : null);
        peaks[`stream${n}`] = be.peak();
        if (n === 361) assert.ok(worst <= 1e-4, `chunked decode differs from one pass by ${worst}`);
      }
      // Frames: 361 vs 1441. The chunked decode's peak is the same; the whole-clip decode's grows.
      assert.ok(peaks.stream361 <= peaks.stream91 * 1.01, `chunked peak grew: ${JSON.stringify(peaks)}`);
      assert.ok(
        peaks.whole361 > 3 * peaks.whole91,
        `whole-clip peak should grow ~4x: ${JSON.stringify(peaks)}`,
      );
      assert.ok(
        peaks.stream361 * 20 < peaks.whole361,
        `chunked peak should be far below one pass: ${JSON.stringify(peaks)}`,
      );
      console.log(`peak live bytes: ${JSON.stringify(peaks)}`);
    } finally {
      useBackend(createRefBackend());
    }
  });
});
