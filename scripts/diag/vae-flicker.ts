/**
 * Where the VAE round trip adds frame-to-frame change (the stability metric's ceiling, docs/EVAL.md):
 * mean absolute change between consecutive frames inside shots, decoded over truth, by the frame's
 * phase in its latent frame (pixel frame 4k+1..4k+4 come from latent frame k+1; phase 1 is the
 * first frame of a latent frame, so its change crosses a latent boundary).
 *
 *   node --import tsx scripts/diag/vae-flicker.ts [STORIES=4] [VAE=models/vae-small/vae.safetensors]
 */
import { setBackend } from '../../src/backends/index.js';
import { makeRenderer } from '../../src/data/world/render.js';
import { roundTripVideo, selectStories } from '../../src/eval/gen.js';
import { loadVae } from '../../src/models/vae/checkpoint.js';
import { vaeCodec } from '../../src/pipeline/codec.js';

const [n = '4', vaePath = 'models/vae-small/vae.safetensors'] = process.argv.slice(2);
await setBackend('native');
const codec = vaeCodec(loadVae(vaePath).vae);
const W = 160;
const H = 96;
const sum = { dec: [0, 0, 0, 0], truth: [0, 0, 0, 0], n: [0, 0, 0, 0] };
const chosen = selectStories({ stories: Number(n), seconds: 16, fps: 24, width: W, height: H });
for (const c of chosen) {
  const r = makeRenderer(c.world);
  const real = Array.from({ length: c.world.frames }, (_, f) => r.render(f).rgb);
  const dec = roundTripVideo(codec, real, W, H);
  const cuts = new Set(c.world.shots.map((s) => s.startFrame));
  const diff = (v: Uint8Array[], f: number) => {
    let s = 0;
    for (let i = 0; i < v[f].length; i++) s += Math.abs(v[f][i] - v[f - 1][i]);
    return s / v[f].length;
  };
  for (let f = 1; f < real.length; f++) {
    if (cuts.has(f) || cuts.has(f - 1) || cuts.has(f + 1)) continue;
    const phase = (f - 1) % 4;
    sum.dec[phase] += diff(dec, f);
    sum.truth[phase] += diff(real, f);
    sum.n[phase]++;
  }
}
for (let p = 0; p < 4; p++)
  console.log(
    `phase ${p + 1}: decoded ${(sum.dec[p] / sum.n[p]).toFixed(2)}  truth ${(sum.truth[p] / sum.n[p]).toFixed(2)}  ratio ${(sum.dec[p] / sum.truth[p]).toFixed(2)}  (${sum.n[p]} frames)`,
  );
