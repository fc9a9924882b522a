/**
 * Clean vs VAE-decoded (models/vae-small) crops of small test objects (<= 250 visible px), 4x
 * enlarged, side by side: what is left of the shape for the probes to read. Writes PNG (default
 * docs/img/probe-vae-crops.png) and prints each pair's size, shape and pattern.
 *
 *   node --import tsx scripts/diag/probe-vae-crops.ts [PNG]
 */
import { writeFileSync } from 'node:fs';
import { setBackend } from '../../src/backends/index.js';
import { makeRenderer } from '../../src/data/world/render.js';
import { splitSeed } from '../../src/data/world/splits.js';
import { generateStory } from '../../src/data/world/story.js';
import { isScorable, visibleObjects } from '../../src/eval/frames.js';
import { vaeRoundTrip } from '../../src/eval/probe-vae-pool.js';
import { loadVae } from '../../src/models/vae/checkpoint.js';
import { encodePng } from '../../src/video/png.js';

await setBackend('wasm');
const { vae } = loadVae('models/vae-small/vae.safetensors');
const W = 160,
  H = 96,
  F = 9,
  S = 28,
  Z = 4;
const picks: { clean: Uint8Array; vae: Uint8Array; cx: number; cy: number; label: string }[] = [];
const seen = new Set<string>();
for (let i = 0; i < 20 && picks.length < 16; i++) {
  const story = generateStory({ seed: splitSeed('test', i), width: W, height: H });
  const r = makeRenderer(story, { masks: true });
  const start = Math.floor(0.25 * Math.max(1, story.frames - F));
  const rendered = Array.from({ length: F }, (_, j) => r.render(start + j));
  const rec = vaeRoundTrip(
    vae,
    rendered.map((x) => x.rgb),
    W,
    H,
    2,
  );
  for (const f of [4])
    for (const v of visibleObjects(rendered[f].truth, W)) {
      const key = `${i}-${v.index}`;
      if (!isScorable(v) || v.pixels > 250 || seen.has(key)) continue;
      seen.add(key);
      picks.push({
        clean: rendered[f].rgb,
        vae: rec[f],
        cx: Math.round(v.cx),
        cy: Math.round(v.cy),
        label: `${v.pixels}px ${v.truth.shape} ${v.truth.pattern}`,
      });
    }
}
const cols = 2 * picks.length;
const OW = cols * (S * Z + 4),
  OH = S * Z;
const out = new Uint8Array(OW * OH * 3).fill(255);
picks.forEach((p, k) =>
  [p.clean, p.vae].forEach((img, m) => {
    const x0 = (2 * k + m) * (S * Z + 4);
    for (let y = 0; y < S * Z; y++)
      for (let x = 0; x < S * Z; x++) {
        const sx = Math.min(W - 1, Math.max(0, p.cx - S / 2 + Math.floor(x / Z)));
        const sy = Math.min(H - 1, Math.max(0, p.cy - S / 2 + Math.floor(y / Z)));
        for (let c = 0; c < 3; c++) out[(y * OW + x0 + x) * 3 + c] = img[(sy * W + sx) * 3 + c];
      }
  }),
);
// two rows of 8 pairs
const half = 8 * 2 * (S * Z + 4);
const grid = new Uint8Array(half * OH * 2 * 3).fill(255);
for (let row = 0; row < 2; row++)
  for (let y = 0; y < OH; y++)
    for (let x = 0; x < half && row * half + x < OW; x++)
      for (let c = 0; c < 3; c++)
        grid[((row * OH + y) * half + x) * 3 + c] = out[(y * OW + row * half + x) * 3 + c];
writeFileSync(process.argv[2] ?? 'docs/img/probe-vae-crops.png', encodePng(grid, half, OH * 2));
console.log(picks.map((p, k) => `${k}: ${p.label}`).join('\n'));
