/**
 * VAE augmentation for the probes (`augment.vae` of the probe recipe): a pool of training-split
 * clips rendered at the probe's size and passed through a VAE (encode + decode, the streaming codec
 * `moga eval probe` and the pipeline use), built once per recipe and cached on disk so a resumed run
 * reads it back instead of re-encoding. Training then replaces a frame by a pool frame (whose truth
 * is re-rendered from its story and frame index: the decoded pixels change, the truth does not)
 * with probability `prob` (probe-train.ts).
 *
 * Cache file: a 4-byte little-endian header length, a JSON header (the key that must match the
 * recipe, plus each clip's story index and first frame), then clips x frames x H x W x 3 bytes.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { makeRenderer } from '../data/world/render.js';
import { splitSeed } from '../data/world/splits.js';
import { generateStory } from '../data/world/story.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { loadVae } from '../models/vae/checkpoint.js';
import { reconstructStreaming } from '../models/vae/evaluate.js';
import type { VideoVAE } from '../models/vae/vae.js';
import { float32ToFrame, framesToFloat32 } from '../tensor/frames.js';
import { mulberry } from './mulberry.js';

export interface VaeAugment {
  /** VAE checkpoint (safetensors) the pool is encoded and decoded with. */
  path: string;
  /** Probability that a training frame is replaced by a pool frame. */
  prob: number;
  /** Clips in the pool. */
  pool: number;
  /** Frames per clip (default 9: the clip length of `moga eval probe`). */
  clipFrames?: number;
  /** Latent frames per streaming chunk (default 2, as `moga eval probe`). */
  chunk?: number;
  /** Cache file (default `<work>-vae-pool.bin`, next to the checkpoint directory). */
  cache?: string;
}

export interface VaePool {
  clips: number;
  /** Frames per clip, and the frame size. */
  F: number;
  W: number;
  H: number;
  /** Per clip: the train-split story index and the first frame. */
  story: number[];
  start: number[];
  /** Decoded frames, clip-major: clip k frame j at ((k * F + j) * H * W * 3). */
  rgb: Uint8Array;
}

const FORMAT = 'moga-probe-vae-pool';

export function checkVaeAugment(v: VaeAugment): void {
  const need = (ok: boolean, m: string) => {
    if (!ok) throw new Error(`probe recipe: augment.vae: ${m}`);
  };
  need(typeof v.path === 'string' && v.path.length > 0, 'path must name a VAE checkpoint');
  need(v.prob >= 0 && v.prob <= 1, `prob must be in [0, 1], got ${v.prob}`);
  need(Number.isInteger(v.pool) && v.pool > 0, `pool must be a positive integer, got ${v.pool}`);
  const F = v.clipFrames ?? 9;
  need(Number.isInteger(F) && F >= 1 && (F - 1) % 4 === 0, `clipFrames must be 1 + 4k, got ${F}`);
  need(Number.isInteger(v.chunk ?? 2) && (v.chunk ?? 2) >= 1, 'chunk must be a positive integer');
}

/** Frames through the VAE and back (streaming encode + decode, `chunk` latent frames at a time). */
export function vaeRoundTrip(
  vae: VideoVAE,
  frames: readonly Uint8Array[],
  W: number,
  H: number,
  chunk = 2,
): Uint8Array[] {
  const F = frames.length;
  const y = reconstructStreaming(vae, framesToFloat32(frames, W, H, 'CFHW'), F, H, W, chunk); // [3, F, H, W]
  const P = W * H;
  const fchw = new Float32Array(y.length);
  for (let f = 0; f < F; f++)
    for (let c = 0; c < 3; c++) fchw.set(y.subarray((c * F + f) * P, (c * F + f + 1) * P), (f * 3 + c) * P);
  return frames.map((_, f) => float32ToFrame(fchw, f, W, H));
}

/** The pool's clips: (story, first frame) pairs, a function of (seed, storyPool, clips, F) only. */
export function poolClips(
  seed: number,
  storyPool: number,
  clips: number,
  F: number,
  W: number,
  H: number,
): { story: number[]; start: number[] } {
  const rand = mulberry((seed * 2_654_435_761 + 0x9e3779b9) >>> 0);
  const story: number[] = [];
  const start: number[] = [];
  while (story.length < clips) {
    const idx = Math.floor(rand() * storyPool);
    const s = generateStory({ seed: splitSeed('train', idx), width: W, height: H });
    const u = rand();
    if (s.frames < F) continue;
    story.push(idx);
    start.push(Math.floor(u * (s.frames - F + 1)));
  }
  return { story, start };
}

interface PoolKey {
  format: string;
  vaeSha256: string;
  seed: number;
  storyPool: number;
  clips: number;
  F: number;
  W: number;
  H: number;
  chunk: number;
}

function sameKey(a: PoolKey, b: PoolKey): boolean {
  return (Object.keys(b) as (keyof PoolKey)[]).every((k) => a[k] === b[k]);
}

/**
 * Builds the pool (or reads it from its cache when the cache's key matches: same VAE file bytes,
 * seed, story pool, clip count and size). A generator that yields after each clip it encodes, so a
 * training command can stop on a signal while the pool is built (nothing cached then).
 */
export function* loadOrBuildVaePool(
  v: VaeAugment,
  o: { seed: number; storyPool: number; width: number; height: number; work: string },
  log: (line: string) => void = console.log,
  signal?: AbortSignal,
): Generator<void, VaePool | null, void> {
  checkVaeAugment(v);
  const F = v.clipFrames ?? 9;
  const chunk = v.chunk ?? 2;
  const { width: W, height: H } = o;
  const cache = v.cache ?? `${o.work}-vae-pool.bin`;
  const key: PoolKey = {
    format: FORMAT,
    vaeSha256: createHash('sha256').update(readFileSync(v.path)).digest('hex'),
    seed: o.seed,
    storyPool: o.storyPool,
    clips: v.pool,
    F,
    W,
    H,
    chunk,
  };
  const frameBytes = W * H * 3;
  if (existsSync(cache)) {
    const buf = readFileSync(cache);
    const n = buf.readUInt32LE(0);
    const head = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as PoolKey & {
      story: number[];
      start: number[];
    };
    const body = buf.subarray(4 + n);
    if (sameKey(head, key) && body.length === v.pool * F * frameBytes) {
      log(`VAE pool: ${v.pool} clips x ${F} frames read from ${cache}`);
      return { clips: v.pool, F, W, H, story: head.story, start: head.start, rgb: new Uint8Array(body) };
    }
    log(`VAE pool: ${cache} was built for other settings; rebuilding it`);
  }
  const { vae } = loadVae(v.path);
  const { story, start } = poolClips(o.seed, o.storyPool, v.pool, F, W, H);
  const rgb = new Uint8Array(v.pool * F * frameBytes);
  const t0 = performance.now();
  for (let k = 0; k < v.pool; k++) {
    if (signal?.aborted) {
      log(`VAE pool: stopped after ${k} of ${v.pool} clips (nothing cached)`);
      return null;
    }
    const s = generateStory({ seed: splitSeed('train', story[k]), width: W, height: H });
    const r = makeRenderer(s);
    const clean = Array.from({ length: F }, (_, j) => r.render(start[k] + j).rgb);
    vaeRoundTrip(vae, clean, W, H, chunk).forEach((f, j) => rgb.set(f, (k * F + j) * frameBytes));
    if ((k + 1) % 25 === 0 || k + 1 === v.pool) {
      const s = (performance.now() - t0) / 1000;
      log(`VAE pool: ${k + 1}/${v.pool} clips, ${(s / (k + 1)).toFixed(2)} s each, ${s.toFixed(0)} s`);
    }
    yield;
  }
  const head = Buffer.from(JSON.stringify({ ...key, story, start }), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length, 0);
  writeFileAtomic(cache, Buffer.concat([len, head, rgb]));
  log(`VAE pool: ${v.pool} clips x ${F} frames cached in ${cache}`);
  return { clips: v.pool, F, W, H, story, start, rgb };
}
