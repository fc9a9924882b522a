/**
 * Where the probes err, clean and through the VAE (models/vae-small), by the object's visible size:
 * the 40 test clips of `moga eval probe --stories 20 --clips 2` (9 frames each), scorable objects
 * only; then the commonest shape confusions and some misses through the VAE.
 *
 *   node --import tsx scripts/diag/probe-sizes.ts [PROBE=models/probe]
 */
import { setBackend } from '../../src/backends/index.js';
import { makeRenderer } from '../../src/data/world/render.js';
import { splitSeed } from '../../src/data/world/splits.js';
import { generateStory } from '../../src/data/world/story.js';
import { isScorable, visibleObjects } from '../../src/eval/frames.js';
import { readFrames } from '../../src/eval/probe.js';
import { loadProbe } from '../../src/eval/probe-model.js';
import { vaeRoundTrip } from '../../src/eval/probe-vae-pool.js';
import { loadVae } from '../../src/models/vae/checkpoint.js';

await setBackend('wasm');
const { probe } = loadProbe(process.argv[2] ?? 'models/probe');
const { vae } = loadVae('models/vae-small/vae.safetensors');
const W = 160,
  H = 96,
  F = 9;
const bins = [0, 60, 120, 250, 1e9];
const t: Record<string, { n: number; found: number; shape: number; colour: number; pattern: number }> = {};
const conf = new Map<string, number>();
const miss: string[] = [];
for (let i = 0; i < 20; i++) {
  const story = generateStory({ seed: splitSeed('test', i), width: W, height: H });
  const r = makeRenderer(story, { masks: true });
  for (let k = 0; k < 2; k++) {
    const start = Math.floor(((k + 0.5) / 2) * Math.max(1, story.frames - F));
    const rendered = Array.from({ length: F }, (_, j) => r.render(start + j));
    for (const mode of ['clean', 'vae']) {
      const frames = rendered.map((x) => x.rgb);
      const rd = readFrames(probe, mode === 'vae' ? vaeRoundTrip(vae, frames, W, H, 2) : frames, W, H);
      rd.forEach((fr, f) => {
        const used = new Set<number>();
        for (const v of visibleObjects(rendered[f].truth, W)) {
          const j = fr.objects.findIndex(
            (o, q) =>
              !used.has(q) &&
              v.cx >= o.box[0] &&
              v.cx <= o.box[2] + 1 &&
              v.cy >= o.box[1] &&
              v.cy <= o.box[3] + 1,
          );
          if (j >= 0) used.add(j);
          if (!isScorable(v)) continue;
          const b = bins.findIndex((x, q) => v.pixels >= x && v.pixels < bins[q + 1]);
          const key = `${mode} px ${bins[b]}-${bins[b + 1]}`;
          const e = (t[key] ??= { n: 0, found: 0, shape: 0, colour: 0, pattern: 0 });
          e.n++;
          if (j < 0) {
            if (mode === 'vae') miss.push(`${v.pixels}px ${v.truth.shape}`);
            continue;
          }
          const o = fr.objects[j];
          e.found++;
          if (o.shape === v.truth.shape) e.shape++;
          else if (mode === 'vae')
            conf.set(`${v.truth.shape}->${o.shape}`, (conf.get(`${v.truth.shape}->${o.shape}`) ?? 0) + 1);
          if (o.colour === v.truth.colour) e.colour++;
          if (o.pattern === v.truth.pattern) e.pattern++;
        }
      });
    }
  }
}
for (const [k, e] of Object.entries(t).sort())
  console.log(
    `${k.padEnd(22)} n ${String(e.n).padStart(4)}  found ${((100 * e.found) / e.n).toFixed(1)}  shape ${((100 * e.shape) / e.n).toFixed(1)}  colour ${((100 * e.colour) / e.n).toFixed(1)}  pattern ${((100 * e.pattern) / e.n).toFixed(1)}`,
  );
console.log(
  'vae shape confusions:',
  [...conf]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([k, n]) => `${k} ${n}`)
    .join(', '),
);
console.log('vae misses:', miss.slice(0, 30).join(', '));
