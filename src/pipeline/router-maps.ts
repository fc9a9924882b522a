/**
 * Router maps: where MoGA sent each token. For the last sampler step (the cleanest latent) and each
 * routed layer, every latent frame is drawn as its first decoded video frame with each token's
 * patch tinted by the colour of the group it was routed to (`layer-<l>-frame-<k>.png`), and
 * `groups.json` holds the numbers: each layer's group sizes (the histogram), per latent frame too,
 * and the share of each group's tokens that falls in each shot.
 *
 * A collector gathers the routing (generate's onRouting) and the frames it needs (onFrame) while
 * the video is generated, then `write(dir)` draws them.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-file.js';
import type { LatentLayout } from '../models/latent-layout.js';
import { videoFramesOf } from '../models/latent-layout.js';
import { writePng } from '../video/png.js';

/** 16 colours far apart (groups beyond 16 reuse them, named in groups.json). */
export const GROUP_COLOURS: readonly (readonly [number, number, number])[] = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
  [0, 128, 128],
  [220, 190, 255],
  [170, 110, 40],
  [255, 250, 200],
  [128, 0, 0],
  [170, 255, 195],
];

/** How much of the group colour a token's pixels take (the rest is the decoded frame). */
const TINT = 0.5;

export interface RouterMapsSummary {
  readonly step: string;
  readonly groups: number;
  /** Token grid per latent frame (rows, columns) and each token's size in video pixels. */
  readonly tokens: {
    readonly rows: number;
    readonly columns: number;
    readonly pixels: readonly [number, number];
  };
  /** Latent frame k is drawn over video frame frames[k]. */
  readonly frames: readonly number[];
  /** First latent frame of each shot. */
  readonly shotStarts: readonly number[];
  readonly colours: readonly (readonly [number, number, number])[];
  readonly layers: readonly {
    readonly layer: number;
    /** Tokens per group over the whole video. */
    readonly sizes: readonly number[];
    /** Tokens per group in each latent frame. */
    readonly perFrame: readonly (readonly number[])[];
    /** shotShare[g][s]: the share of group g's tokens that lie in shot s (0 for an empty group). */
    readonly shotShare: readonly (readonly number[])[];
  }[];
  /** The PNGs written, layer-major. */
  readonly files: readonly string[];
}

export interface RouterMapsCollector {
  readonly onRouting: (r: { layer: number; groupIds: Int32Array; groups: number }) => void;
  readonly onFrame: (rgb: Uint8Array, index: number) => void;
  /** Draws the maps into `dir` (created); throws when generate reported no routing. */
  write(dir: string): RouterMapsSummary;
}

/**
 * A collector for a video of this layout: `patch` is the DiT's [t, h, w] patch, `space` the
 * codec's pixels per latent cell.
 */
export function routerMaps(
  layout: LatentLayout,
  video: { width: number; height: number },
  patch: readonly [number, number, number],
  space: number,
  time: number,
): RouterMapsCollector {
  const [pt, ph, pw] = patch;
  const rows = layout.height / ph;
  const columns = layout.width / pw;
  const tokenFrames = layout.latentFrames / pt;
  const perFrame = rows * columns;
  const frameOf = Array.from({ length: layout.latentFrames }, (_, k) => videoFramesOf(k, time)[0]);
  const wanted = new Map<number, number[]>(); // video frame -> latent frames drawn on it
  frameOf.forEach((f, k) => wanted.set(f, [...(wanted.get(f) ?? []), k]));
  const frames = new Map<number, Uint8Array>();
  const layers: { layer: number; groupIds: Int32Array; groups: number }[] = [];
  return {
    onRouting: (r) => {
      if (r.groupIds.length !== tokenFrames * perFrame)
        throw new Error(
          `router maps: ${r.groupIds.length} routed tokens, expected ${tokenFrames} x ${rows} x ${columns}`,
        );
      layers.push(r);
    },
    onFrame: (rgb, i) => {
      if (wanted.has(i)) frames.set(i, rgb);
    },
    write(dir) {
      if (layers.length === 0)
        throw new Error('router maps: the model routed no tokens (no MoGA routed branch in its attention)');
      mkdirSync(dir, { recursive: true });
      const groups = layers[0].groups;
      const shotOf = (k: number) => {
        let s = 0;
        while (s + 1 < layout.shotStarts.length && layout.shotStarts[s + 1] <= k) s++;
        return s;
      };
      const tokenW = space * pw;
      const tokenH = space * ph;
      const files: string[] = [];
      const summary: RouterMapsSummary['layers'][number][] = [];
      for (const { layer, groupIds } of layers) {
        const sizes = new Array<number>(groups).fill(0);
        const byFrame = Array.from({ length: layout.latentFrames }, () => new Array<number>(groups).fill(0));
        const byShot = Array.from({ length: groups }, () =>
          new Array<number>(layout.shotStarts.length).fill(0),
        );
        for (let k = 0; k < layout.latentFrames; k++) {
          const tf = Math.floor(k / pt);
          const base = frames.get(frameOf[k]);
          const img = base ? Uint8Array.from(base) : new Uint8Array(video.width * video.height * 3);
          for (let y = 0; y < rows; y++)
            for (let x = 0; x < columns; x++) {
              const g = groupIds[(tf * rows + y) * columns + x];
              if (k % pt === 0) {
                sizes[g]++;
                byShot[g][shotOf(k)]++;
              }
              byFrame[k][g]++;
              const c = GROUP_COLOURS[g % GROUP_COLOURS.length];
              for (let py = y * tokenH; py < Math.min((y + 1) * tokenH, video.height); py++)
                for (let px = x * tokenW; px < Math.min((x + 1) * tokenW, video.width); px++) {
                  const o = 3 * (py * video.width + px);
                  for (let ch = 0; ch < 3; ch++)
                    img[o + ch] = Math.round(img[o + ch] * (1 - TINT) + c[ch] * TINT);
                }
            }
          const name = `layer-${layer}-frame-${String(k).padStart(4, '0')}.png`;
          writePng(join(dir, name), img, video.width, video.height);
          files.push(name);
        }
        summary.push({
          layer,
          sizes,
          perFrame: byFrame,
          shotShare: byShot.map((row, g) => row.map((n) => (sizes[g] ? n / sizes[g] : 0))),
        });
      }
      const out: RouterMapsSummary = {
        step: 'last sampler step (conditional sample)',
        groups,
        tokens: { rows, columns, pixels: [tokenH, tokenW] },
        frames: frameOf,
        shotStarts: layout.shotStarts,
        colours: GROUP_COLOURS.slice(0, Math.min(groups, GROUP_COLOURS.length)),
        layers: summary,
        files,
      };
      writeFileAtomic(join(dir, 'groups.json'), `${JSON.stringify(out, null, 2)}\n`);
      return out;
    },
  };
}
