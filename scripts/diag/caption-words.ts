/**
 * How far each kind of caption word moves the DiT: one-shot captions "a COLOUR [PATTERN] SHAPE rests
 * on a BG wall, wide shot" with one slot varied over its values and the rest fixed; the x0
 * prediction at fixed noise, on a world clip's latent noised to t. For each slot, the mean relative
 * L2 between the predictions of two values (all pairs), over the whole latent and over the object's
 * cells (the 3x3 latent cells around the centre, where the world puts no object: so `object` reads
 * what the words draw there), and the same for the text encoder's output rows.
 *
 *   node --import tsx scripts/diag/caption-words.ts [MODEL=models/dit-tiny] [T=1,0.75,0.375]
 */
import { setBackend } from '../../src/backends/index.js';
import { BACKGROUND_COLOURS, COLOURS, PATTERNS, SHAPES } from '../../src/data/world/types.js';
import { videoDiT } from '../../src/models/dit/dit.js';
import { loadModel } from '../../src/pipeline/model.js';
import { encodeShots } from '../../src/pipeline/story-text.js';
import { worldClip } from '../../src/pipeline/world-clips.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, noGrad } from '../../src/tensor/tensor.js';

await setBackend('native');
const dir = process.argv[2] ?? 'models/dit-tiny';
const ts = (process.argv[3] ?? '1,0.75,0.375').split(',').map(Number);
const model = await loadModel(dir, {});
const data = {
  clips: 1,
  frames: 9,
  width: 160,
  height: 96,
  fps: 24,
  minSeconds: 8,
  maxSeconds: 16,
  globalProb: 0,
};
const clip = worldClip(0, data);
const x0 = model.codec.encode(fromArray(clip.video, [3, data.frames, data.height, data.width])).dataSync();
const [C, F, h, w] = [model.dit.config.latentChannels, 3, data.height / 8, data.width / 8];
const e = new Rng(7).normal([C, F, h, w]).dataSync();

const base = { colour: 'red', pattern: '', shape: 'circle', bg: 'grey' };
type Slots = typeof base;
const caption = (s: Slots) =>
  `a ${s.colour}${s.pattern ? ` ${s.pattern}` : ''} ${s.shape} rests on a ${s.bg} wall, wide shot`;
const slots: [keyof Slots, readonly string[]][] = [
  ['colour', COLOURS],
  ['shape', SHAPES],
  ['pattern', PATTERNS.filter((p) => p !== 'plain')],
  ['bg', BACKGROUND_COLOURS],
];

const rel = (a: ArrayLike<number>, b: ArrayLike<number>, keep: (i: number) => boolean) => {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++)
    if (keep(i)) {
      d += (a[i] - b[i]) ** 2;
      n += a[i] ** 2 + b[i] ** 2;
    }
  return Math.sqrt((2 * d) / n);
};
const centre = (i: number) => {
  const x = i % w;
  const y = Math.floor(i / w) % h;
  return Math.abs(y - h / 2 + 0.5) <= 1.5 && Math.abs(x - w / 2 + 0.5) <= 1.5;
};
const meanPairs = (xs: ArrayLike<number>[], keep: (i: number) => boolean) => {
  let s = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++)
    for (let j = i + 1; j < xs.length; j++) {
      s += rel(xs[i], xs[j], keep);
      n++;
    }
  return s / n;
};

console.log(`${dir}: clip 0 latent noised to t, fixed noise; mean pairwise relative L2 of the x0 prediction`);
console.log('slot     values  text rows  ' + ts.map((t) => `t=${t} all / object`).join('  '));
for (const [slot, values] of slots) {
  const texts = values.map((v) => encodeShots(model.captions, [caption({ ...base, [slot]: v })], [F]));
  const rows = texts.map((t) => t.shots[0].caption.dataSync());
  const cols = ts.map((t) => {
    const xt = fromArray(
      Float32Array.from(x0, (v, i) => (1 - t) * v + t * e[i]),
      [C, F, h, w],
    );
    const preds = texts.map((text) =>
      noGrad(() => videoDiT(model.dit, { latents: xt, t, text }).velocity.dataSync()),
    );
    return `${meanPairs(preds, () => true).toFixed(4)} / ${meanPairs(preds, centre).toFixed(4)}`;
  });
  console.log(
    `${slot.padEnd(8)} ${String(values.length).padStart(6)}  ${meanPairs(rows, () => true)
      .toFixed(4)
      .padStart(9)}  ${cols.join('  ')}`,
  );
}
