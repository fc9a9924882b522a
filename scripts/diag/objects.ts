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
 *   node --import tsx scripts/diag/objects.ts latent MODEL N SIGMA [POOL]
 *     no DiT: N held-out frames through the VAE with their latent perturbed, read by the probes:
 *     Gaussian noise of std SIGMA (the latent is unit-variance per channel), and with POOL 2 each
 *     2x2 block of cells replaced by its mean first (what a 1x2x2-patch DiT that paints a token
 *     flat would draw). How much error the VAE's shapes survive.
 *
 *   node --import tsx scripts/diag/objects.ts detail MODEL CACHE_DIR [N=24]
 *     one denoising pass on N cached clips noised to t, the object cells split into their 2x2
 *     token's mean and the detail inside the token (cell minus that mean): regression gain and
 *     correlation of each part of the x0 prediction against the clip's.
 *
 *   node --import tsx scripts/diag/objects.ts located MODEL N T0 GAIN [random] [SHEET.png]
 *     does knowing where the object is fix it? Single frames as in `frames` (the model's sampling),
 *     but started at T0 from the model's own guess at t = 1 (x0 from pure noise: a cloud of object
 *     colour over the frame) kept, GAIN times, only on the world frame's object cells (dilated by
 *     one cell; `random`: the same cells moved to a random place) and noised to T0.
 *
 *   node --import tsx scripts/diag/objects.ts words MODEL N T0 [K=1]
 *     does the shape word draw the shape? Held-out one-object frames started from the world frame's
 *     latent noised to T0 (the model's sampling), with the caption's shape word replaced by the
 *     K-th next shape: how often the probes read the caption's (new) shape, and how often the
 *     frame's own (K 0: the caption unchanged).
 *
 *   node --import tsx scripts/diag/objects.ts ancestral MODEL N STEPS ETA
 *     single generated frames as in `frames`, with the model's sampling (guidance until its
 *     threshold, its shift) but an ancestral sampler: each step jumps with the data prediction to
 *     t_down = t_next (1 - ETA) and re-noises to t_next with fresh noise (ETA 0: DDIM, deterministic).
 *
 * Object cells: latent cells whose 16-channel vector is > 1.5 (RMS over channels) from the frame's
 * per-channel median, which is where the world's objects are (backgrounds are flat or stripes).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setBackend } from '../../src/backends/index.js';
import { SHAPES } from '../../src/data/world/types.js';
import { noisedExample } from '../../src/diffusion/rectified-flow.js';
import { sample } from '../../src/diffusion/sample.js';
import { timesteps } from '../../src/diffusion/schedule.js';
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
  const [, F, h, w] = t.shape;
  const { med, cells } = objectCells(x, t.shape); // cells: indices into x, all channels
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
  eta?: number,
  guidanceUntil = 0,
): void {
  const shape = [m.config.dit.latentChannels, 1, H / m.codec.space, W / m.codec.space];
  const { gen, truth } = heldOutFrames(m, n, (clip, k) => {
    const text = encodeShots(m.captions, clip.captions, [1]);
    const v = samplingVelocity(
      denoiser(m.dit),
      text,
      guidance,
      m.config.prediction ?? 'velocity',
      shape,
      undefined,
      guidanceUntil,
    );
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
    const z =
      eta === undefined
        ? sample({
            ...from,
            velocity: v.velocity,
            shape,
            sampler: s.sampler,
            steps,
            shift: shift ?? s.shift,
            seed: k,
          })
        : ancestralSample(v.velocity, shape, steps, shift ?? s.shift, eta, k);
    v.dispose();
    return z;
  });
  console.log(
    `${modelDir} (${m.config.training?.steps ?? '?'} steps): ${n} frames${start === undefined ? '' : ` from t0 ${start}`}${eta === undefined ? '' : `, ancestral eta ${eta}, ${steps} steps`}; ${scoreFrames(gen, truth)}`,
  );
  const cols = Math.min(12, n); // one row generated, one row the truth
  if (sheet)
    writeContactSheet(sheet, [...gen.slice(0, cols), ...truth.slice(0, cols)], W, H, { columns: cols });
}

/** The model's own sampling velocity (its guidance and guidance threshold) for one frame's captions. */
function modelVelocity(m: MogaModel, captions: readonly string[], shape: number[]) {
  const s = m.config.sampling;
  const text = encodeShots(m.captions, captions, [1]);
  const p = m.config.prediction ?? 'velocity';
  return samplingVelocity(denoiser(m.dit), text, s.guidance, p, shape, undefined, s.guidanceUntil ?? 0);
}

/** Single frames started from the model's own t = 1 guess kept on (true or moved) object cells (header). */
function located(m: MogaModel, n: number, t0: number, gain: number, random: boolean, sheet?: string): void {
  const s = m.config.sampling;
  const [C, h, w] = [m.config.dit.latentChannels, H / m.codec.space, W / m.codec.space];
  const shape = [C, 1, h, w];
  const { gen, truth } = heldOutFrames(m, n, (clip, k) => {
    const v = modelVelocity(m, clip.captions, shape);
    const rng = new Rng(k);
    const noise = rng.normalArray(C * h * w);
    const vel = v.velocity(fromArray(noise, shape), 1).dataSync() as Float32Array;
    const guess = noise.map((e, i) => e - vel[i]); // x0 = x - t v at t = 1
    const { med } = objectCells(guess, shape);
    const truthCells = objectCells(
      m.codec.encode(fromArray(clip.video, [3, 1, H, W])).dataSync() as Float32Array,
      shape,
    ).cells;
    const on = new Uint8Array(h * w);
    for (const o of truthCells) if (o < h * w) on[o] = 1; // channel 0's indices are the cells
    const ps = [...on.keys()].filter((p) => on[p]);
    const [is, js] = [ps.map((p) => Math.floor(p / w)), ps.map((p) => p % w)];
    let [di, dj] = [0, 0];
    if (random && ps.length) {
      const [i0, i1, j0, j1] = [Math.min(...is), Math.max(...is), Math.min(...js), Math.max(...js)];
      di = rng.int(h - (i1 - i0)) - i0;
      dj = rng.int(w - (j1 - j0)) - j0;
    }
    const mask = new Float32Array(h * w);
    ps.forEach((_, q) => {
      for (let a = -1; a <= 1; a++)
        for (let b = -1; b <= 1; b++) {
          const [i, j] = [is[q] + di + a, js[q] + dj + b];
          if (i >= 0 && i < h && j >= 0 && j < w) mask[i * w + j] = 1;
        }
    });
    const fresh = rng.normalArray(C * h * w);
    const xt = guess.map((g, i) => {
      const seed =
        med[Math.floor(i / (h * w))] + gain * (g - med[Math.floor(i / (h * w))]) * mask[i % (h * w)];
      return (1 - t0) * seed + t0 * fresh[i];
    });
    const z = sample({
      start: t0,
      noise: fromArray(xt, shape),
      velocity: v.velocity,
      shape,
      sampler: s.sampler,
      steps: s.steps,
      shift: s.shift,
      seed: k,
    });
    v.dispose();
    return z;
  });
  console.log(
    `${modelDir}: ${n} frames from the t = 1 guess on ${random ? 'moved' : 'true'} object cells, x${gain}, t0 ${t0}; ${scoreFrames(gen, truth)}`,
  );
  if (sheet)
    writeContactSheet(sheet, [...gen.slice(0, 12), ...truth.slice(0, 12)], W, H, {
      columns: Math.min(12, n),
    });
}

/** Held-out frames refined from T0 with the shape word swapped (header). */
function words(m: MogaModel, n: number, t0: number, k: number): void {
  const s = m.config.sampling;
  const [C, h, w] = [m.config.dit.latentChannels, H / m.codec.space, W / m.codec.space];
  const shape = [C, 1, h, w];
  const said: string[] = [];
  const own: string[] = [];
  const { gen } = heldOutFrames(m, n, (clip, i) => {
    const caption = clip.captions[0];
    const old = SHAPES.find((x) => new RegExp(`\\b${x}\\b`).test(caption)) ?? '';
    const one = !caption.includes(', and ') && old !== '';
    const next = one ? SHAPES[(SHAPES.indexOf(old) + k) % SHAPES.length] : '';
    said.push(next);
    own.push(old);
    const v = modelVelocity(m, [one ? caption.replace(old, next) : caption], shape);
    const x0 = m.codec.encode(fromArray(clip.video, [3, 1, H, W]));
    const noise = noisedExample(x0, new Rng(i).normal(shape), t0).xt;
    const z = sample({
      start: t0,
      noise,
      velocity: v.velocity,
      shape,
      sampler: s.sampler,
      steps: s.steps,
      shift: s.shift,
      seed: i,
    });
    v.dispose();
    return z;
  });
  const { probe } = loadProbe('models/probe');
  const read = readFrames(probe, gen, W, H).map((r) => r.objects[0]?.shape ?? '');
  const cases = said.flatMap((x, i) => (x ? [i] : []));
  const pc = (f: (i: number) => boolean) =>
    `${((100 * cases.filter(f).length) / Math.max(cases.length, 1)).toFixed(1)}%`;
  console.log(
    `${modelDir}: ${cases.length} one-object frames from t0 ${t0}, shape word +${k}: the caption's shape ${pc((i) => read[i] === said[i])}, the frame's own ${pc((i) => read[i] === own[i])}`,
  );
}

/** The VAE alone on held-out frames, the latent pooled over POOL x POOL cells and noised (header). */
function latentRobustness(m: MogaModel, n: number, sigma: number, pool: number): void {
  const { gen, truth } = heldOutFrames(m, n, (clip, k) => {
    const z = m.codec.encode(fromArray(clip.video, [3, 1, H, W]));
    const [C, , h, w] = z.shape;
    const x = (z.dataSync() as Float32Array).slice();
    for (let c = 0; c < C; c++)
      for (let i = 0; i < h; i += pool)
        for (let j = 0; j < w; j += pool) {
          let s = 0;
          for (let a = 0; a < pool; a++) for (let b = 0; b < pool; b++) s += x[(c * h + i + a) * w + j + b];
          for (let a = 0; a < pool; a++)
            for (let b = 0; b < pool; b++) x[(c * h + i + a) * w + j + b] = s / pool ** 2;
        }
    const e = new Rng(k).normalArray(x.length);
    return fromArray(
      x.map((v, i) => v + sigma * e[i]),
      z.shape,
    );
  });
  console.log(`VAE, latent pooled ${pool}x${pool}, noise ${sigma}: ${scoreFrames(gen, truth)}`);
}

/**
 * N held-out world frames (train-split indices >= 100000; DIAG_FIRST_CLIP=0 reads training clips
 * 0..N-1 instead, for a memorisation check), and the decoded latents `latentOf` makes for them.
 */
function heldOutFrames(
  m: MogaModel,
  n: number,
  latentOf: (clip: ReturnType<typeof worldClip>, k: number) => Tensor,
): { gen: Uint8Array[]; truth: Uint8Array[] } {
  const spec = { frames: 1, width: W, height: H, fps: 24, minSeconds: 8, maxSeconds: 40, globalProb: 0 };
  const gen: Uint8Array[] = [];
  const truth: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const clip = worldClip(Number(process.env.DIAG_FIRST_CLIP ?? 100000) + k, spec, m.codec.time);
    truth.push(toRgb(clip.video));
    noGrad(() =>
      tidy(() => {
        const d = m.codec.decoder();
        gen.push(toRgb(d.push(latentOf(clip, k)).dataSync() as Float32Array));
        d.close();
      }),
    );
  }
  return { gen, truth };
}

/** The probes' reading of generated frames against the world's: background, and the largest object. */
function scoreFrames(gen: Uint8Array[], truth: Uint8Array[]): string {
  const { probe } = loadProbe('models/probe');
  const [g, t] = [readFrames(probe, gen, W, H), readFrames(probe, truth, W, H)];
  const count = { colour: 0, kind: 0, withObject: 0, found: 0, objColour: 0, objShape: 0 };
  for (let i = 0; i < gen.length; i++) {
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
  const [n, o] = [gen.length, count.withObject];
  return `bg colour ${pc(count.colour, n)}, bg kind ${pc(count.kind, n)}; of ${o} with an object: found ${pc(count.found, o)}, colour ${pc(count.objColour, o)}, shape ${pc(count.objShape, o)}`;
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

/** Object cells of a latent [C, F, h, w] (see the header): indices into x, all channels, and the per-channel medians [C * F]. */
function objectCells(x: Float32Array, shape: readonly number[]): { med: Float32Array; cells: number[] } {
  const [C, F, h, w] = shape;
  const hw = h * w;
  const med = new Float32Array(C * F);
  for (let k = 0; k < C * F; k++)
    med[k] = [...x.subarray(k * hw, (k + 1) * hw)].sort((a, b) => a - b)[hw >> 1];
  const cells: number[] = [];
  for (let f = 0; f < F; f++)
    for (let p = 0; p < hw; p++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += (x[(c * F + f) * hw + p] - med[c * F + f]) ** 2;
      if (Math.sqrt(s / C) > 1.5) for (let c = 0; c < C; c++) cells.push((c * F + f) * hw + p);
    }
  return { med, cells };
}

/** Ancestral sampling from pure noise (see the header): x0 = x - t v, then DDIM to t_down, re-noised. */
function ancestralSample(
  velocity: (x: Tensor, t: number) => Tensor,
  shape: number[],
  steps: number,
  shift: number,
  eta: number,
  seed: number,
): Tensor {
  const rng = new Rng(seed);
  const ts = timesteps(steps, shift);
  let x = rng.normalArray(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < steps; i++) {
    const [t, tn] = [ts[i], ts[i + 1]];
    const v = tidy(() => velocity(fromArray(x, shape), t).dataSync() as Float32Array);
    const x0 = x.map((xi, j) => xi - t * v[j]);
    const e = x.map((xi, j) => (xi - (1 - t) * x0[j]) / t);
    const td = tn * (1 - eta);
    const a = (1 - tn) / (1 - td);
    const fresh = Math.sqrt(Math.max(0, tn * tn - (a * td) ** 2));
    const n = rng.normalArray(x.length);
    x = x0.map((x0j, j) => a * ((1 - td) * x0j + td * e[j]) + fresh * n[j]);
  }
  return fromArray(x, shape);
}

/** x's value at flat index o minus the mean of its 2x2 block of cells (same channel and frame). */
function withinToken(x: Float32Array, o: number, h: number, w: number): number {
  const p = o % (h * w);
  const base = o - p;
  const [i, j] = [Math.floor(p / w) & ~1, (p % w) & ~1];
  const m =
    (x[base + i * w + j] +
      x[base + i * w + j + 1] +
      x[base + (i + 1) * w + j] +
      x[base + (i + 1) * w + j + 1]) /
    4;
  return x[o] - m;
}

function detail(m: MogaModel, cache: string, n: number): void {
  const ts = [0.1, 0.3, 0.5, 0.7];
  const acc = ts.map(() => ({ dot: 0, pp: 0, xx: 0, mdot: 0, mpp: 0, mxx: 0 }));
  const rng = new Rng(11);
  const [gen, real] = [
    { detail: 0, all: 0 },
    { detail: 0, all: 0 },
  ];
  eachClip(m, cache, n, (c, x0, text) => {
    const [h, w] = c.shape.slice(2);
    const net = denoiser(m.dit).condition([text], c.shape);
    ts.forEach((t, j) => {
      const { xt } = noisedExample(x0, rng.normal(c.shape), t);
      const pred = net.run([xt], [t]).velocities[0].dataSync() as Float32Array;
      const a = acc[j];
      for (const o of c.cells) {
        const [dp, dx] = [withinToken(pred, o, h, w), withinToken(c.x, o, h, w)];
        const med = c.med[Math.floor(o / c.hw)];
        const [mp, mx] = [pred[o] - dp - med, c.x[o] - dx - med];
        a.dot += dp * dx;
        a.pp += dp * dp;
        a.xx += dx * dx;
        a.mdot += mp * mx;
        a.mpp += mp * mp;
        a.mxx += mx * mx;
      }
    });
    net.dispose();
    // sampled from pure noise as the model samples: the share of within-token energy in its objects
    const s = m.config.sampling;
    const v = samplingVelocity(
      denoiser(m.dit),
      text,
      s.guidance,
      'data',
      c.shape,
      undefined,
      s.guidanceUntil ?? 0,
    );
    const z = sample({
      velocity: v.velocity,
      shape: c.shape,
      sampler: s.sampler,
      steps: s.steps,
      shift: s.shift,
      seed: 5,
    });
    v.dispose();
    for (const [x, e] of [
      [z.dataSync() as Float32Array, gen],
      [c.x, real],
    ] as const) {
      const { med, cells } = objectCells(x, c.shape);
      for (const o of cells) {
        const d = withinToken(x, o, h, w);
        e.detail += d * d;
        e.all += (x[o] - med[Math.floor(o / c.hw)]) ** 2;
      }
    }
  });
  const share = (e: { detail: number; all: number }) => `${((100 * e.detail) / e.all).toFixed(1)}%`;
  console.log(
    `within-token share of object energy: sampled from noise ${share(gen)}, the clips ${share(real)}`,
  );
  ts.forEach((t, j) => {
    const a = acc[j];
    const f = (d: number, p: number, x: number) =>
      `gain ${(d / x).toFixed(3)}, corr ${(d / Math.sqrt(p * x)).toFixed(3)}`;
    console.log(
      `t ${t}: token mean ${f(a.mdot, a.mpp, a.mxx)}; detail inside the token ${f(a.dot, a.pp, a.xx)} (detail is ${((100 * a.xx) / (a.xx + a.mxx)).toFixed(1)}% of the truth's object signal)`,
    );
  });
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

if (
  !modelDir ||
  !['frames', 'located', 'words', 'ancestral', 'latent', 'detail', 'gain', 'sdedit'].includes(mode)
) {
  console.error(
    'usage: objects.ts frames|located|words|ancestral|latent|detail|gain|sdedit MODEL_DIR [...] (see the header)',
  );
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
else if (mode === 'ancestral') {
  const s = model.config.sampling;
  frames(
    model,
    num(0, 48),
    num(1, 6),
    s.guidance,
    undefined,
    undefined,
    undefined,
    num(2, 0),
    s.guidanceUntil ?? 0,
  );
} else if (mode === 'located')
  located(model, num(0, 48), num(1, 0.8), num(2, 1), rest[3] === 'random', rest[4] || undefined);
else if (mode === 'words') words(model, num(0, 48), num(1, 0.5), num(2, 1));
else if (mode === 'latent') latentRobustness(model, num(0, 48), num(1, 0), num(2, 1));
else if (mode === 'detail') detail(model, rest[0], num(1, 24));
else if (mode === 'gain') gain(model, rest[0], num(1, 24));
else sdedit(model, rest[0], num(1, 8), num(2, 3));
