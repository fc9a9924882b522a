/**
 * Held-out accuracy of the probes: clips of test-split world stories (never trained on) at the
 * probe's size, read as rendered ("clean") and, optionally, after the VAE (encode + decode, the
 * streaming path the pipeline uses). Per attribute:
 *   background kind / colour   per frame;
 *   localisation               a scorable object (>= 24 px and >= half of it visible) is found when a
 *                              detection's box contains its visible centre; IoU of the boxes;
 *   shape / colour / pattern   per scorable object, a miss counts as wrong (end to end).
 */
import { type FrameTruth, makeRenderer } from '../data/world/render.js';
import { splitSeed } from '../data/world/splits.js';
import { generateStory } from '../data/world/story.js';
import type { VideoVAE } from '../models/vae/vae.js';
import { type Box, isScorable, visibleObjects } from './frames.js';
import { type FrameReading, readFrames } from './probe.js';
import type { Probe } from './probe-model.js';
import { vaeRoundTrip } from './probe-vae-pool.js';

export interface ProbeAccuracy {
  frames: number;
  objects: number;
  bgKind: number;
  bgColour: number;
  /** Scorable objects found. */
  found: number;
  /** Mean IoU of found objects' boxes with their visible boxes. */
  iou: number;
  /** Detections per frame that match no object at all. */
  falsePerFrame: number;
  shape: number;
  colour: number;
  pattern: number;
}

export interface ProbeEvalOptions {
  /** Test stories (default 40), clips per story (default 2) of `clipFrames` frames (default 9). */
  stories?: number;
  clips?: number;
  clipFrames?: number;
  /** First story index (default 0) of the split (default 'test'; 'val' for tuning thresholds). */
  first?: number;
  split?: 'test' | 'val';
  vae?: VideoVAE;
  /** Objects with fewer visible pixels are not scored (default 24, as in training). */
  minPixels?: number;
  onProgress?: (done: number, total: number) => void;
}

function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1);
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1);
  const inter = ix * iy;
  const area = (q: Box) => (q[2] - q[0] + 1) * (q[3] - q[1] + 1);
  return inter / (area(a) + area(b) - inter);
}

const inside = (b: Box, x: number, y: number) => x >= b[0] && x <= b[2] + 1 && y >= b[1] && y <= b[3] + 1;

/** Accuracy of the probes on held-out clips: clean, and through the VAE when one is given. */
export function evaluateProbe(
  probe: Probe,
  opts: ProbeEvalOptions = {},
): { clean: ProbeAccuracy; vae?: ProbeAccuracy } {
  const { width: W, height: H } = probe.config;
  const nStories = opts.stories ?? 40;
  const nClips = opts.clips ?? 2;
  const F = opts.clipFrames ?? 9;
  const tallies = { clean: newTally(), vae: newTally() };
  for (let i = 0; i < nStories; i++) {
    const story = generateStory({
      seed: splitSeed(opts.split ?? 'test', (opts.first ?? 0) + i),
      width: W,
      height: H,
    });
    const r = makeRenderer(story, { masks: true });
    for (let k = 0; k < nClips; k++) {
      const start = Math.floor(((k + 0.5) / nClips) * Math.max(1, story.frames - F));
      const rendered = Array.from({ length: Math.min(F, story.frames) }, (_, j) => r.render(start + j));
      const frames = rendered.map((x) => x.rgb);
      const truths = rendered.map((x) => x.truth);
      score(tallies.clean, readFrames(probe, frames, W, H), truths, W, opts.minPixels);
      if (opts.vae && frames.length === F) {
        const rec = vaeRoundTrip(opts.vae, frames, W, H, 2);
        score(tallies.vae, readFrames(probe, rec, W, H), truths, W, opts.minPixels);
      }
    }
    opts.onProgress?.(i + 1, nStories);
  }
  return { clean: finish(tallies.clean), ...(opts.vae ? { vae: finish(tallies.vae) } : {}) };
}

type Tally = ReturnType<typeof newTally>;

function newTally() {
  return {
    frames: 0,
    objects: 0,
    kind: 0,
    colour: 0,
    found: 0,
    iou: 0,
    fp: 0,
    oShape: 0,
    oColour: 0,
    oPattern: 0,
  };
}

function score(
  t: Tally,
  readings: readonly FrameReading[],
  truths: readonly FrameTruth[],
  W: number,
  minPixels = 24,
): void {
  readings.forEach((rd, f) => {
    const truth = truths[f];
    t.frames++;
    if (rd.kind === truth.background.kind) t.kind++;
    if (rd.colour === truth.background.colour) t.colour++;
    const vis = visibleObjects(truth, W);
    const used = new Set<number>();
    for (const v of vis) {
      const j = rd.objects.findIndex((o, k) => !used.has(k) && inside(o.box, v.cx, v.cy));
      if (j >= 0) used.add(j);
      if (!isScorable(v, minPixels)) continue;
      t.objects++;
      if (j < 0) continue;
      const o = rd.objects[j];
      t.found++;
      t.iou += iou(o.box, v.box!);
      if (o.shape === v.truth.shape) t.oShape++;
      if (o.colour === v.truth.colour) t.oColour++;
      if (o.pattern === v.truth.pattern) t.oPattern++;
    }
    t.fp += rd.objects.length - used.size;
  });
}

function finish(t: Tally): ProbeAccuracy {
  const per = (n: number, d: number) => (d > 0 ? n / d : Number.NaN);
  return {
    frames: t.frames,
    objects: t.objects,
    bgKind: per(t.kind, t.frames),
    bgColour: per(t.colour, t.frames),
    found: per(t.found, t.objects),
    iou: per(t.iou, t.found),
    falsePerFrame: per(t.fp, t.frames),
    shape: per(t.oShape, t.objects),
    colour: per(t.oColour, t.objects),
    pattern: per(t.oPattern, t.objects),
  };
}
