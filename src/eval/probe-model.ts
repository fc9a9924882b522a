/**
 * The world probes: two small convnets, trained with the project's own engine on world frames and
 * their truth (probe-train.ts), that read what a frame shows.
 *
 *   scene net   the frame average-pooled by `pool` (160x96 -> 40x24 cells), 3x3 convs:
 *               - a heat map: per cell, the logit that an object covers it (localisation);
 *               - the background: kind (4) and colour (8), from the trunk's features pooled to a
 *                 3x4 grid (so "lighter at the top" and "a wall above a floor" stay visible).
 *   object net  a square crop around one object (found from the heat map), resampled to
 *               `crop` x `crop` at full resolution, plus a silhouette channel (frames.ts),
 *               strided convs + an MLP: shape (8), colour (8), pattern (4).
 *
 * Inputs are in [-1, 1] (byte / 127.5 - 1), channel-first.
 */
import { existsSync } from 'node:fs';
import { BACKGROUND_COLOURS, BACKGROUND_KINDS, COLOURS, PATTERNS, SHAPES } from '../data/world/types.js';
import { readSafetensors } from '../io/safetensors.js';
import { conv2d, initConv3d } from '../nn/conv.js';
import { initLinear, type Linear, linear } from '../nn/linear.js';
import { loadParamsInto, saveParams } from '../nn/params-file.js';
import { add, gelu, mean, reshape } from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { CROP_CHANNELS } from './frames.js';

export interface ProbeConfig {
  /** Frame size the probes read (other sizes are resampled to it). */
  readonly width: number;
  readonly height: number;
  /** Pixels per heat-map cell along each side. */
  readonly pool: number;
  /** Object crops are resampled to crop x crop. */
  readonly crop: number;
  /** Scene-net channels [c1, c2]; object-net channels [c1, c2, c3] and MLP width. */
  readonly scene: readonly [number, number];
  readonly object: readonly [number, number, number];
  readonly hidden: number;
}

export const DEFAULT_PROBE_CONFIG: ProbeConfig = {
  width: 160,
  height: 96,
  pool: 4,
  crop: 32,
  scene: [16, 32],
  object: [16, 32, 32],
  hidden: 64,
};

/** Logit layout of the scene net's background head and the object net's head. */
export const BG_HEAD = { kind: BACKGROUND_KINDS.length, colour: BACKGROUND_COLOURS.length } as const;
export const OBJ_HEAD = { shape: SHAPES.length, colour: COLOURS.length, pattern: PATTERNS.length } as const;

/** A conv layer as 2D: the weight is [Co, Ci, KH, KW] (stored as a depth-1 Conv3d). */
interface Conv2 {
  weight: Tensor;
  bias?: Tensor;
}

export interface ProbeParams {
  scene: {
    c1: Conv2;
    c2: Conv2;
    ctx: Linear;
    c3: Conv2;
    heat: Conv2;
    down: Conv2;
    bg: Linear;
  };
  object: { c1: Conv2; c2: Conv2; c3: Conv2; fc: Linear; out: Linear };
}

export interface Probe {
  readonly config: ProbeConfig;
  readonly params: ProbeParams;
}

function initConv2(rng: Rng, cin: number, cout: number, k: number): Conv2 {
  const c = initConv3d(rng, cin, cout, [1, k, k]);
  return { weight: reshape(c.weight, [cout, cin, k, k]), bias: c.bias };
}

function conv(p: Conv2, x: Tensor, stride = 1): Tensor {
  const k = p.weight.shape[2];
  const y = conv2d(x, p.weight, { stride, padding: (k - 1) >> 1 });
  return p.bias ? add(y, reshape(p.bias, [p.bias.size, 1, 1])) : y;
}

export function checkProbeConfig(c: ProbeConfig): void {
  const bad = (m: string) => {
    throw new Error(`probe config: ${m}`);
  };
  if (c.width % c.pool || c.height % c.pool)
    bad(`size ${c.width}x${c.height} is not a multiple of pool ${c.pool}`);
  const gh = c.height / c.pool;
  const gw = c.width / c.pool;
  if (gh % 6 || gw % 8)
    bad(`the pooled grid ${gw}x${gh} must be a multiple of 8x6 (3x4 background grid after a 2x stride)`);
  if (c.crop % 4) bad(`crop ${c.crop} must be a multiple of 4`);
}

export function initProbe(config: ProbeConfig = DEFAULT_PROBE_CONFIG, seed = 0): Probe {
  checkProbeConfig(config);
  const r = new Rng(seed);
  const [s1, s2] = config.scene;
  const [o1, o2, o3] = config.object;
  const flat = o3 * (config.crop / 4) ** 2;
  const nBg = BG_HEAD.kind + BG_HEAD.colour;
  const nObj = OBJ_HEAD.shape + OBJ_HEAD.colour + OBJ_HEAD.pattern;
  return {
    config,
    params: {
      scene: {
        c1: initConv2(r.fork(1), 3, s1, 3),
        c2: initConv2(r.fork(2), s1, s2, 3),
        ctx: initLinear(r.fork(3), s2, s2),
        c3: initConv2(r.fork(4), s2, s2, 1),
        heat: initConv2(r.fork(5), s2, 1, 1),
        down: initConv2(r.fork(6), s2, s2, 3),
        bg: initLinear(r.fork(7), s2 * 12, nBg),
      },
      object: {
        c1: initConv2(r.fork(11), CROP_CHANNELS, o1, 3),
        c2: initConv2(r.fork(12), o1, o2, 3),
        c3: initConv2(r.fork(13), o2, o3, 3),
        fc: initLinear(r.fork(14), flat, config.hidden),
        out: initLinear(r.fork(15), config.hidden, nObj),
      },
    },
  };
}

/**
 * Scene net: pooled frames [B, 3, h, w] -> heat logits [B, h, w] and background logits [B, 12]
 * (kind 0..3, colour 4..11).
 */
export function sceneForward(p: ProbeParams['scene'], x: Tensor): { heat: Tensor; bg: Tensor } {
  const [B, , h, w] = x.shape;
  const h1 = gelu(conv(p.c1, x));
  const h2 = gelu(conv(p.c2, h1));
  const C = h2.shape[1];
  const ctx = linear(p.ctx, mean(h2, [2, 3])); // [B, C]: what the whole frame looks like
  const h3 = gelu(add(conv(p.c3, h2), reshape(ctx, [B, C, 1, 1])));
  const heat = reshape(conv(p.heat, h3), [B, h, w]);
  const d = gelu(conv(p.down, h2, 2)); // [B, C, h/2, w/2]
  const gh = d.shape[2] / 3;
  const gw = d.shape[3] / 4;
  const grid = mean(reshape(d, [B, C, 3, gh, 4, gw]), [3, 5]); // [B, C, 3, 4]
  const bg = linear(p.bg, reshape(grid, [B, C * 12]));
  return { heat, bg };
}

/** Object net: crops [N, 4, S, S] (RGB + silhouette) -> logits [N, 20] (shape 0..7, colour 8..15, pattern 16..19). */
export function objectForward(p: ProbeParams['object'], x: Tensor): Tensor {
  const N = x.shape[0];
  const h1 = gelu(conv(p.c1, x));
  const h2 = gelu(conv(p.c2, h1, 2));
  const h3 = gelu(conv(p.c3, h2, 2));
  const f = gelu(linear(p.fc, reshape(h3, [N, h3.size / N])));
  return linear(p.out, f);
}

export const PROBE_FILE = 'probe.safetensors';

export function saveProbe(path: string, probe: Probe, extra: Record<string, string> = {}): void {
  saveParams(path, probe.params, {
    dtype: 'F16',
    metadata: { format: 'moga-probe', config: JSON.stringify(probe.config), ...extra },
  });
}

/** Loads a probe checkpoint (a file, or a directory holding probe.safetensors). */
export function loadProbe(path = 'models/probe'): { probe: Probe; metadata: Record<string, string> } {
  const file = path.endsWith('.safetensors') ? path : `${path}/${PROBE_FILE}`;
  if (!existsSync(file))
    throw new Error(
      `probe checkpoint ${file} does not exist (train one: moga train probe --config configs/probe.json)`,
    );
  const f = readSafetensors(file);
  const metadata = f.metadata;
  if (metadata.format !== 'moga-probe')
    throw new Error(`${file} is not a probe checkpoint (format ${metadata.format})`);
  const probe = initProbe(JSON.parse(metadata.config) as ProbeConfig);
  loadParamsInto(probe.params, f, { source: file });
  return { probe, metadata };
}
