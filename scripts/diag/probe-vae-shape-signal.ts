/**
 * How much of an object's shape survives models/vae-small, without any probe: for scorable objects
 * of test clips (the middle frame of the first clip of `moga eval probe`'s stories), the same clip
 * is rendered with that object's shape replaced by each of the 8 shapes (everything else equal) and
 * each version goes through the VAE (streaming, as `moga eval probe`). Over the object's box (+2
 * px), RMS in 0..255 units:
 *   err     |VAE(x_true) - x_true|: what the VAE changes in the true clip;
 *   clean   min over other shapes s of |x_s - x_true|: the shape signal in the render;
 *   decoded min over other shapes s of |VAE(x_s) - VAE(x_true)|: the shape signal left after the VAE;
 *   nn      whether the decoded true frame is nearer to the clean render of its own shape than to
 *           the clean render of any other shape (pixel nearest neighbour).
 * By visible size. When `decoded` is well under `err`, the shape is a small part of what the VAE
 * changes in the region, and reading it needs a model of the VAE's error more than of the shape.
 *
 *   node --import tsx scripts/diag/probe-vae-shape-signal.ts [STORIES=20]
 */
import { setBackend } from '../../src/backends/index.js';
import { makeRenderer } from '../../src/data/world/render.js';
import { splitSeed } from '../../src/data/world/splits.js';
import { generateStory } from '../../src/data/world/story.js';
import { SHAPES } from '../../src/data/world/types.js';
import { isScorable, visibleObjects } from '../../src/eval/frames.js';
import { vaeRoundTrip } from '../../src/eval/probe-vae-pool.js';
import { loadVae } from '../../src/models/vae/checkpoint.js';

await setBackend('wasm');
const { vae } = loadVae('models/vae-small/vae.safetensors');
const W = 160;
const H = 96;
const F = 9;
const J = 4;
const N = Number(process.argv[2] ?? 20);
const bins = [0, 120, 250, 1e9];
const rows: { px: number; shape: string; err: number; clean: number; decoded: number; nn: boolean }[] = [];
for (let i = 0; i < N; i++) {
  const story = generateStory({ seed: splitSeed('test', i), width: W, height: H });
  const start = Math.floor(0.25 * Math.max(1, story.frames - F));
  const truth = makeRenderer(story, { masks: true }).render(start + J).truth;
  for (const v of visibleObjects(truth, W)) {
    if (!isScorable(v) || !v.truth.bbox) continue;
    const [bx0, by0, bx1, by1] = v.truth.bbox;
    const x0 = Math.max(0, bx0 - 2);
    const y0 = Math.max(0, by0 - 2);
    const x1 = Math.min(W - 1, bx1 + 2);
    const y1 = Math.min(H - 1, by1 + 2);
    const rms = (a: Uint8Array, b: Uint8Array) => {
      let s = 0;
      let n = 0;
      for (let y = y0; y <= y1; y++)
        for (let x = x0; x <= x1; x++)
          for (let c = 0; c < 3; c++) {
            const d = a[(y * W + x) * 3 + c] - b[(y * W + x) * 3 + c];
            s += d * d;
            n++;
          }
      return Math.sqrt(s / n);
    };
    const clean: Uint8Array[] = [];
    const dec: Uint8Array[] = [];
    for (const shape of SHAPES) {
      const s2 = structuredClone(story);
      s2.characters.find((c) => c.id === v.truth.character)!.shape = shape;
      const r = makeRenderer(s2);
      const clip = Array.from({ length: F }, (_, j) => r.render(start + j).rgb);
      clean.push(clip[J]);
      dec.push(vaeRoundTrip(vae, clip, W, H, 2)[J]);
    }
    const t = SHAPES.indexOf(v.truth.shape);
    const others = SHAPES.map((_, s) => s).filter((s) => s !== t);
    const near = SHAPES.map((_, s) => rms(dec[t], clean[s]));
    rows.push({
      px: v.pixels,
      shape: v.truth.shape,
      err: rms(dec[t], clean[t]),
      clean: Math.min(...others.map((s) => rms(clean[s], clean[t]))),
      decoded: Math.min(...others.map((s) => rms(dec[s], dec[t]))),
      nn: near.indexOf(Math.min(...near)) === t,
    });
  }
  process.stderr.write(`${i + 1}/${N} stories, ${rows.length} objects\n`);
}
const med = (a: number[]) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)] ?? Number.NaN;
for (let b = 0; b + 1 < bins.length; b++) {
  const r = rows.filter((q) => q.px >= bins[b] && q.px < bins[b + 1]);
  if (!r.length) continue;
  console.log(
    `px ${bins[b]}-${bins[b + 1]}: n ${r.length}, median err ${med(r.map((q) => q.err)).toFixed(1)}, ` +
      `clean ${med(r.map((q) => q.clean)).toFixed(1)}, decoded ${med(r.map((q) => q.decoded)).toFixed(1)}, ` +
      `decoded < err in ${r.filter((q) => q.decoded < q.err).length}, pixel-NN right ${r.filter((q) => q.nn).length}`,
  );
}
for (const q of rows)
  console.log(
    `${String(q.px).padStart(4)} px ${q.shape.padEnd(8)} err ${q.err.toFixed(1)} clean ${q.clean.toFixed(1)} decoded ${q.decoded.toFixed(1)} nn ${q.nn}`,
  );
