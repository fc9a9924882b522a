/**
 * Why the bundled DiT draws backgrounds but not objects: three measurements (docs/EVAL.md, the
 * model card). All on held-out or cached world data, seeded, native backend.
 *
 *   node --import tsx scripts/diag/objects.ts frames MODEL [N=48] [STEPS=12] [GUIDANCE=3] [SHEET.png] [SHIFT]
 *     single generated frames (one latent frame) for the captions of N held-out world frames
 *     (train-split indices >= 100000; training uses < 12000), read by the probes next to the
 *     world's own frame: background colour/kind agreement, and of the frames with an object whether
 *     one is found and the largest one's colour and shape agree.
 *   node --import tsx scripts/diag/objects.ts frames MODEL N STEPS GUIDANCE '' '' START
 *     the same, but each sample starts from the world frame's own latent noised to t = START (< 1):
 *     from which noise level the model keeps the object's colour and shape (refinement) and below
 *     which it must decide them from the caption alone.
 *   node --import tsx scripts/diag/objects.ts gain MODEL CACHE_DIR [N=24]
 *     one denoising pass on N cached training clips noised to t: how much of the objects' latent
 *     signal the x0 prediction keeps (regression gain and correlation over the object cells).
 *   node --import tsx scripts/diag/objects.ts sdedit MODEL CACHE_DIR [N=8] [GUIDANCE=3]
 *     full sampling (24 DPM-Solver++ steps, shift 3) started from cached clips noised to t0: from
 *     which t0 an object present in the start survives to t = 0.
 *
 * Object cells: latent cells whose 16-channel vector is > 1.5 (RMS over channels) from the frame's
 * per-channel median, which is where the world's objects are (backgrounds are flat or stripes).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setBackend } from '../../src/backends/index.js';
import { noisedExample } from '../../src/diffusion/rectified-flow.js';
import { sample } from '../../src/diffusion/sample.js';
import { readFrames } from '../../src/eval/probe.js';
import { loadProbe } from '../../src/eval/probe-model.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { denoiser, samplingVelocity } from '../../src/models/dit/objective.js';
import type { MultiShotText } from '../../src/models/dit/text.js';
import { loadModel, type MogaModel } from '../../src/pipeline/model.js';
import { encodeShots } from '../../src/pipeline/story-text.js';
import { worldClip } from '../../src/pipeline/world-clips.js';
import { fromArray, noGrad, Rng, type Tensor, tidy } from '../../src/tensor/index.js';
import { writeContactSheet } from '../../src/video/contact-sheet.js';

const [mode, modelDir, ...rest] = process.argv.slice(2);
const W = 160;
const H = 96;

/** [3, 1, H, W] in [-1, 1] (first frame) -> RGB bytes. */
function toRgb(a: Float32Array): Uint8Array {
  const o = new Uint8Array(W * H * 3);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < W * H; i++)
      o[i * 3 + c] = Math.max(0, Math.min(255, Math.round((a[c * W * H + i] + 1) * 127.5)));
  return o;
}

/** A cached training clip and its object cells (see the header). */
function cachedClip(cache: string, i: number) {
  const f = readSafetensors(join(cache, `clip-${i}.safetensors`));
  const t = f.tensors.get('latent')!;
  const x = t.data as Float32Array;
  const [C, F, h, w] = t.shape;
  const med = new Float32Array(C * F);
  for (let k = 0; k < C * F; k++)
    med[k] = [...x.subarray(k * h * w, (k + 1) * h * w)].sort((a, b) => a - b)[(h * w) >> 1];
  const cells: number[] = []; // indices into x of object cells, all channels
  for (let fr = 0; fr < F; fr++)
    for (let p = 0; p < h * w; p++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += (x[(c * F + fr) * h * w + p] - med[c * F + fr]) ** 2;
      if (Math.sqrt(s / C) > 1.5) for (let c = 0; c < C; c++) cells.push((c * F + fr) * h * w + p);
    }
  const meta = JSON.parse(f.metadata.clip);
  return { x, shape: [...t.shape], med, cells, meta, F, hw: h * w };
}

/** Accumulates the regression gain and correlation of predicted vs true object signal. */
function gainMeter() {
  let dot = 0;
  let pp = 0;
  let xx = 0;
  return {
    add(pred: Float32Array, c: ReturnType<typeof cachedClip>) {
      for (const o of c.cells) {
        const m = c.med[Math.floor(o / c.hw)];
        const a = pred[o] - m;
        const b = c.x[o] - m;
        dot += a * b;
        pp += a * a;
        xx += b * b;
      }
    },
    report: () => `object gain ${(dot / xx).toFixed(3)}  corr ${(dot / Math.sqrt(pp * xx)).toFixed(3)}`,
  };
}

function frames(
  m: MogaModel,
  n: number,
  steps: number,
  guidance: number,
  sheet?: string,
  shift?: number,
  start?: number,
): void {
  const { probe } = loadProbe('models/probe');
  const spec = { frames: 1, width: W, height: H, fps: 24, minSeconds: 8, maxSeconds: 40, globalProb: 0 };
  const gen: Uint8Array[] = [];
  const truth: Uint8Array[] = [];
  const shape = [m.config.dit.latentChannels, 1, H / m.codec.space, W / m.codec.space];
  for (let k = 0; k < n; k++) {
    const clip = worldClip(100000 + k, spec, m.codec.time);
    truth.push(toRgb(clip.video));
    noGrad(() =>
      tidy(() => {
        const text = encodeShots(m.captions, clip.captions, [1]);
        const v = samplingVelocity(denoiser(m.dit), text, guidance, m.config.prediction ?? 'velocity', shape);
        const s = m.config.sampling;
        const from =
          start === undefined
            ? {}
            : {
                start,
                noise: noisedExample(
                  m.codec.encode(fromArray(clip.video, [3, 1, H, W])),
                  new Rng(k).normal(shape),
                  start,
                ).xt,
              };
        const z = sample({
          ...from,
          velocity: v.velocity,
          shape,
          sampler: s.sampler,
          steps,
          shift: shift ?? s.shift,
          seed: k,
        });
        v.dispose();
        const d = m.codec.decoder();
        gen.push(toRgb(d.push(z).dataSync() as Float32Array));
        d.close();
      }),
    );
  }
  const g = readFrames(probe, gen, W, H);
  const t = readFrames(probe, truth, W, H);
  const count = { colour: 0, kind: 0, withObject: 0, found: 0, objColour: 0, objShape: 0 };
  for (let i = 0; i < n; i++) {
    count.colour += +(g[i].colour === t[i].colour);
    count.kind += +(g[i].kind === t[i].kind);
    const [to, go] = [t[i].objects[0], g[i].objects[0]];
    if (!to) continue;
    count.withObject++;
    if (!go) continue;
    count.found++;
    count.objColour += +(go.colour === to.colour);
    count.objShape += +(go.shape === to.shape);
  }
  const pc = (a: number, b: number) => `${((100 * a) / Math.max(b, 1)).toFixed(1)}%`;
  const o = count.withObject;
  console.log(
    `${modelDir} (${m.config.training?.steps ?? '?'} steps): ${n} frames${start === undefined ? '' : ` from t0 ${start}`}; bg colour ${pc(count.colour, n)}, bg kind ${pc(count.kind, n)}; of ${o} with an object: found ${pc(count.found, o)}, colour ${pc(count.objColour, o)}, shape ${pc(count.objShape, o)}`,
  );
  if (sheet) writeContactSheet(sheet, [...gen.slice(0, 12), ...truth.slice(0, 12)], W, H, { columns: 12 });
}

/** Runs `fn` on N cached clips (every 37th), each with its clean latent and encoded captions, in a scope. */
function eachClip(
  m: MogaModel,
  cache: string,
  n: number,
  fn: (c: ReturnType<typeof cachedClip>, x0: Tensor, text: MultiShotText) => void,
): void {
  const count = readdirSync(cache).length;
  for (let k = 0; k < n; k++) {
    const c = cachedClip(cache, (k * 37) % count);
    noGrad(() =>
      tidy(() =>
        fn(
          c,
          fromArray(c.x, c.shape),
          encodeShots(m.captions, c.meta.captions, c.meta.shotFrames, c.meta.global),
        ),
      ),
    );
  }
}

function gain(m: MogaModel, cache: string, n: number): void {
  const ts = [0.6, 0.8, 0.9, 0.95];
  const meters = ts.map(gainMeter);
  const rng = new Rng(11);
  eachClip(m, cache, n, (c, x0, text) => {
    const net = denoiser(m.dit).condition([text], c.shape);
    ts.forEach((t, j) => {
      const { xt } = noisedExample(x0, rng.normal(c.shape), t);
      meters[j].add(net.run([xt], [t]).velocities[0].dataSync() as Float32Array, c);
    });
    net.dispose();
  });
  ts.forEach((t, j) => console.log(`t ${t}: ${meters[j].report()}`));
}

function sdedit(m: MogaModel, cache: string, n: number, guidance: number): void {
  const t0s = [1.0, 0.97, 0.94, 0.9, 0.8, 0.7];
  const meters = t0s.map(gainMeter);
  const rng = new Rng(11);
  eachClip(m, cache, n, (c, x0, text) => {
    const v = samplingVelocity(denoiser(m.dit), text, guidance, 'data', c.shape);
    const e = rng.normal(c.shape);
    t0s.forEach((start, j) => {
      const noise = noisedExample(x0, e, start).xt;
      const sampler = { kind: 'dpm-solver++', order: 2 } as const;
      const z = sample({ velocity: v.velocity, shape: c.shape, sampler, steps: 24, shift: 3, noise, start });
      meters[j].add(z.dataSync() as Float32Array, c);
    });
    v.dispose();
  });
  t0s.forEach((t0, j) => console.log(`from t0 ${t0}: ${meters[j].report()}`));
}

if (!modelDir || !['frames', 'gain', 'sdedit'].includes(mode)) {
  console.error('usage: objects.ts frames|gain|sdedit MODEL_DIR [...] (see the header)');
  process.exit(2);
}
await setBackend('native');
const model = await loadModel(modelDir);
const num = (i: number, d: number) => (rest[i] === undefined ? d : Number(rest[i]));
if (mode === 'frames')
  frames(
    model,
    num(0, 48),
    num(1, 12),
    num(2, 3),
    rest[3] || undefined,
    rest[4] ? Number(rest[4]) : undefined,
    rest[5] ? Number(rest[5]) : undefined,
  );
else if (mode === 'gain') gain(model, rest[0], num(1, 24));
else sdedit(model, rest[0], num(1, 8), num(2, 3));
