/**
 * How loudly the DiT's loss hears an object's shape: for scorable objects of test clips (as
 * probe-vae-shape-signal.ts), the clip is rendered with that object's shape replaced by each other
 * shape, its colour by each other colour, or the object alone moved right by one pixel of a wide
 * shot, everything else equal. Each version is encoded by the bundled model's codec (the
 * normalised latent the DiT is trained on). The squared difference summed over the middle latent
 * frame (what the x0 loss pays for drawing it wrong; nearest other shape and colour), and over the
 * middle frame's pixels ([-1, 1] units) for comparison. Shape / colour far below the pixels' ratio
 * would mean the latent loss weighs shape below what the picture shows; moved / shape far above
 * it, that the latent is more position-sensitive than the picture.
 *
 *   node --import tsx scripts/diag/latent-shape-signal.ts [STORIES=10]
 */
import { setBackend } from '../../src/backends/index.js';
import { makeRenderer } from '../../src/data/world/render.js';
import { splitSeed } from '../../src/data/world/splits.js';
import { generateStory } from '../../src/data/world/story.js';
import { COLOURS, type Motion, SHAPES } from '../../src/data/world/types.js';
import { isScorable, visibleObjects } from '../../src/eval/frames.js';
import { loadModel } from '../../src/pipeline/model.js';
import { framesToTensor } from '../../src/tensor/frames.js';
import { noGrad } from '../../src/tensor/tensor.js';

await setBackend('native');
const model = await loadModel('models/dit-tiny', {});
const W = 160;
const H = 96;
const F = 9; // 1 + 2 x 4: latent frames 0..2, frame J in latent frame 1
const J = 4;
const N = Number(process.argv[2] ?? 10);

type Clip = Uint8Array[];
const latent = (clip: Clip) =>
  noGrad(() => model.codec.encode(framesToTensor(clip, W, H, 'CFHW')).dataSync());
/** Sum of squares of a - b over latent frame 1 of [C, 3, h, w]. */
function latentSq(a: Float32Array, b: Float32Array): number {
  const hw = (H / 8) * (W / 8);
  let s = 0;
  for (let c = 0; c < a.length / (3 * hw); c++)
    for (let k = 0; k < hw; k++) {
      const i = (c * 3 + 1) * hw + k;
      s += (a[i] - b[i]) ** 2;
    }
  return s;
}
function pixelSq(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] - b[i]) / 127.5) ** 2;
  return s;
}

function moveRight(m: Motion, dx: number): void {
  if (m.kind === 'move') {
    m.from[0] += dx;
    m.to[0] += dx;
  } else if (m.kind === 'bounce') m.x += dx;
  else m.at[0] += dx;
}

const rows: {
  px: number;
  shift: number;
  shiftPixel: number;
  latent: [number, number];
  pixel: [number, number];
}[] = [];
for (let i = 0; i < N; i++) {
  const story = generateStory({ seed: splitSeed('test', i), width: W, height: H });
  const start = Math.floor(0.25 * Math.max(1, story.frames - F));
  const render = (s: typeof story): Clip => {
    const r = makeRenderer(s);
    return Array.from({ length: F }, (_, j) => r.render(start + j).rgb);
  };
  const truth = makeRenderer(story, { masks: true }).render(start + J).truth;
  const base = render(story);
  const zBase = latent(base);
  for (const v of visibleObjects(truth, W)) {
    if (!isScorable(v)) continue;
    const ch = (s: typeof story) => s.characters.find((c) => c.id === v.truth.character)!;
    const nearest = (vary: (s: typeof story) => void) => {
      const s2 = structuredClone(story);
      vary(s2);
      const clip = render(s2);
      return { latent: latentSq(latent(clip), zBase), pixel: pixelSq(clip[J], base[J]) };
    };
    const shapes = SHAPES.filter((s) => s !== v.truth.shape).map((s) => nearest((q) => (ch(q).shape = s)));
    const colours = COLOURS.filter((c) => c !== v.truth.colour).map((c) =>
      nearest((q) => (ch(q).colour = c)),
    );
    const min = (a: { latent: number; pixel: number }[], k: 'latent' | 'pixel') =>
      Math.min(...a.map((q) => q[k]));
    // the object alone moved right by one pixel of a wide shot (1/96 world unit): the cost of
    // the object's position below a latent cell (8 px), beside the cost of its shape
    const shifted = nearest((q) => {
      for (const shot of q.shots)
        for (const o of shot.objects) if (o.character === v.truth.character) moveRight(o.motion, 1 / H);
    });
    rows.push({
      px: v.pixels,
      shift: shifted.latent,
      shiftPixel: shifted.pixel,
      latent: [min(shapes, 'latent'), min(colours, 'latent')],
      pixel: [min(shapes, 'pixel'), min(colours, 'pixel')],
    });
  }
  process.stderr.write(`${i + 1}/${N} stories, ${rows.length} objects\n`);
}
const med = (a: number[]) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)] ?? Number.NaN;
const ratio = (r: (typeof rows)[number], k: 'latent' | 'pixel') => r[k][0] / r[k][1];
console.log(
  `${rows.length} objects; medians of nearest-other squared difference (shape, colour) and shape/colour`,
);
console.log(
  `latent: shape ${med(rows.map((r) => r.latent[0])).toFixed(3)}, colour ${med(rows.map((r) => r.latent[1])).toFixed(3)}, ratio ${med(rows.map((r) => ratio(r, 'latent'))).toFixed(3)}`,
);
console.log(
  `the object moved by 1 px: latent ${med(rows.map((r) => r.shift)).toFixed(3)}, pixel ${med(rows.map((r) => r.shiftPixel)).toFixed(1)}; moved / shape: latent ${med(rows.map((r) => r.shift / r.latent[0])).toFixed(3)}, pixel ${med(rows.map((r) => r.shiftPixel / r.pixel[0])).toFixed(3)}`,
);
console.log(
  `pixel:  shape ${med(rows.map((r) => r.pixel[0])).toFixed(1)}, colour ${med(rows.map((r) => r.pixel[1])).toFixed(1)}, ratio ${med(rows.map((r) => ratio(r, 'pixel'))).toFixed(3)}`,
);
for (const r of rows)
  console.log(
    `${String(r.px).padStart(4)} px  moved 1 px ${r.shift.toFixed(2)}  latent ${r.latent.map((x) => x.toFixed(2)).join(' / ')}  pixel ${r.pixel.map((x) => x.toFixed(1)).join(' / ')}`,
  );
