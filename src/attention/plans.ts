/**
 * Plan builders: full, routed (MoGA groups), per-frame, and spatial window x temporal group (STGA),
 * over a token grid where token index = (frame * height + y) * width + x.
 */
import { type AttentionPlan, batchPlans, planFromSegments, planPairs, validatePlan } from './plan.js';

/** A latent token grid. `shotStarts` lists the first latent frame of each shot (starts with 0). */
export interface GridLayout {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  readonly shotStarts?: readonly number[];
}

export interface WindowOptions {
  /**
   * Number of spatial windows per side, [along y, along x] -- the paper's "2x2 windows" is [2, 2].
   * Window i along an axis of length L covers [floor(i*L/n), floor((i+1)*L/n)), so any grid size works.
   */
  readonly window: readonly [number, number];
  /** Latent frames per temporal group, counted from each shot's start (default: the whole shot). */
  readonly temporalGroup?: number;
  /**
   * Latent frames of the adjacent shot(s) added to the keys/values (never the queries) of a group
   * that touches a cut: the first group of a shot gets the previous shot's last frames, the last
   * group gets the next shot's first frames, in the same spatial window (ours). Default 2.
   */
  readonly adjacentFrames?: number;
}

/** Frame ranges [start, end) of each shot, validated. */
export function shotRanges(layout: GridLayout): [number, number][] {
  const { frames, height, width } = layout;
  for (const [k, v] of Object.entries({ frames, height, width }))
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`grid layout: ${k} must be a positive integer, got ${v}`);
  const starts = layout.shotStarts ?? [0];
  if (starts.length === 0 || starts[0] !== 0)
    throw new Error(`grid layout: shotStarts must start with 0, got [${starts.join(', ')}]`);
  for (let i = 1; i < starts.length; i++)
    if (!Number.isInteger(starts[i]) || starts[i] <= starts[i - 1] || starts[i] >= frames)
      throw new Error(
        `grid layout: shotStarts must increase within [0, ${frames}), got [${starts.join(', ')}]`,
      );
  return starts.map((s, i) => [s, i + 1 < starts.length ? starts[i + 1] : frames]);
}

/** Shot index of each latent frame. */
export function shotOfFrame(layout: GridLayout): Int32Array {
  const out = new Int32Array(layout.frames);
  shotRanges(layout).forEach(([a, b], s) => out.fill(s, a, b));
  return out;
}

function tokens(layout: GridLayout): number {
  return layout.frames * layout.height * layout.width;
}

/** One segment: every query sees every key. */
function full(n: number): AttentionPlan {
  if (!Number.isInteger(n) || n < 0) throw new Error(`plans.full: n must be an integer >= 0, got ${n}`);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return { qIndex: idx, qOffsets: Int32Array.of(0, n), kvIndex: idx, kvOffsets: Int32Array.of(0, n) };
}

/**
 * MoGA groups: one segment per group id in [0, numGroups) (empty groups give empty segments),
 * tokens in ascending order inside each group (a stable counting sort). With `perShot`, groups are
 * also split by shot (segment = shot * numGroups + group), so routed attention never crosses a cut.
 */
function routed(groupIds: Int32Array, numGroups: number, opts: { perShot?: GridLayout } = {}): AttentionPlan {
  if (!Number.isInteger(numGroups) || numGroups < 1)
    throw new Error(`plans.routed: numGroups must be >= 1, got ${numGroups}`);
  const n = groupIds.length;
  let key = groupIds;
  let keys = numGroups;
  if (opts.perShot) {
    if (tokens(opts.perShot) !== n)
      throw new Error(`plans.routed: ${n} group ids but the layout has ${tokens(opts.perShot)} tokens`);
    const shot = shotOfFrame(opts.perShot);
    const perFrame = opts.perShot.height * opts.perShot.width;
    key = new Int32Array(n);
    for (let i = 0; i < n; i++) key[i] = shot[Math.floor(i / perFrame)] * numGroups + groupIds[i];
    keys = numGroups * shot[shot.length - 1] + numGroups;
  }
  const offsets = new Int32Array(keys + 1);
  for (let i = 0; i < n; i++) {
    const g = groupIds[i];
    if (!(g >= 0 && g < numGroups))
      throw new Error(`plans.routed: token ${i} has group id ${g} outside [0, ${numGroups})`);
    offsets[key[i] + 1]++;
  }
  for (let s = 0; s < keys; s++) offsets[s + 1] += offsets[s];
  const at = offsets.slice(0, keys);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[at[key[i]]++] = i;
  return { qIndex: idx, qOffsets: offsets, kvIndex: idx, kvOffsets: offsets };
}

/** One segment per latent frame (all tokens of the frame see each other). */
function perFrame(layout: GridLayout): AttentionPlan {
  shotRanges(layout);
  const per = layout.height * layout.width;
  const p = full(tokens(layout));
  const offsets = new Int32Array(layout.frames + 1);
  for (let f = 0; f <= layout.frames; f++) offsets[f] = f * per;
  return { qIndex: p.qIndex, qOffsets: offsets, kvIndex: p.kvIndex, kvOffsets: offsets };
}

/** Spatial-temporal window groups (STGA), shot-aware; see WindowOptions. */
function windows(layout: GridLayout, opts: WindowOptions): AttentionPlan {
  const shots = shotRanges(layout);
  const { height: H, width: W } = layout;
  const [ny, nx] = opts.window;
  if (!Number.isInteger(ny) || ny < 1 || ny > H || !Number.isInteger(nx) || nx < 1 || nx > W)
    throw new Error(
      `plans.windows: window [${ny}, ${nx}] must be windows per side within [1..${H}] x [1..${W}]`,
    );
  const adj = opts.adjacentFrames ?? 2;
  if (!Number.isInteger(adj) || adj < 0)
    throw new Error(`plans.windows: adjacentFrames must be an integer >= 0, got ${adj}`);
  const tg = opts.temporalGroup ?? Number.POSITIVE_INFINITY;
  if (!(tg >= 1)) throw new Error(`plans.windows: temporalGroup must be >= 1, got ${tg}`);
  const cellTokens = (
    f0: number,
    f1: number,
    y0: number,
    y1: number,
    x0: number,
    x1: number,
    out: number[],
  ) => {
    for (let f = f0; f < f1; f++)
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) out.push((f * H + y) * W + x);
  };
  const segments: { q: number[]; kv: number[] }[] = [];
  shots.forEach(([s0, s1], si) => {
    for (let g0 = s0, g1 = 0; g0 < s1; g0 = g1) {
      g1 = Math.min(s1, g0 + tg);
      for (let wy = 0; wy < ny; wy++)
        for (let wx = 0; wx < nx; wx++) {
          const y0 = Math.floor((wy * H) / ny);
          const y1 = Math.floor(((wy + 1) * H) / ny);
          const x0 = Math.floor((wx * W) / nx);
          const x1 = Math.floor(((wx + 1) * W) / nx);
          const q: number[] = [];
          cellTokens(g0, g1, y0, y1, x0, x1, q);
          const kv = q.slice();
          if (adj > 0 && g0 === s0 && si > 0)
            cellTokens(Math.max(shots[si - 1][0], s0 - adj), s0, y0, y1, x0, x1, kv);
          if (adj > 0 && g1 === s1 && si + 1 < shots.length)
            cellTokens(s1, Math.min(shots[si + 1][1], s1 + adj), y0, y1, x0, x1, kv);
          segments.push({ q, kv });
        }
    }
  });
  return planFromSegments(segments);
}

export const plans = {
  full,
  routed,
  perFrame,
  windows,
  /** Combines per-sample plans for a token-major batch; see batchPlans. */
  batch: batchPlans,
  fromSegments: planFromSegments,
  validate: validatePlan,
  pairs: planPairs,
};
