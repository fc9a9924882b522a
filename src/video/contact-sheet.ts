/** Contact sheets: a grid of frames in one image, for looking at a whole story at a glance. */
import { writePng } from './png.js';

export interface SheetOptions {
  /** Default: about square overall. */
  columns?: number;
  /** Pixels between tiles (default 2). */
  gap?: number;
  /** Gap colour (default dark grey). */
  background?: readonly [number, number, number];
  /** Optional border colour per tile (e.g. to mark the first frame after a cut); drawn in the gap. */
  borders?: (readonly [number, number, number] | null)[];
}

/** n frame indices spread evenly over [0, total), first and last included. */
export function evenlySpaced(total: number, n: number): number[] {
  if (total < 1) return [];
  const k = Math.min(n, total);
  if (k === 1) return [0];
  return Array.from({ length: k }, (_, i) => Math.round((i * (total - 1)) / (k - 1)));
}

export function contactSheet(
  frames: readonly Uint8Array[],
  width: number,
  height: number,
  opts: SheetOptions = {},
) {
  const n = frames.length;
  if (n === 0) throw new Error('contact sheet needs at least one frame');
  const gap = opts.gap ?? 2;
  const cols = opts.columns ?? Math.max(1, Math.ceil(Math.sqrt((n * height) / width)));
  const rows = Math.ceil(n / cols);
  const SW = cols * width + (cols + 1) * gap;
  const SH = rows * height + (rows + 1) * gap;
  const rgb = new Uint8Array(SW * SH * 3);
  const bg = opts.background ?? [24, 24, 24];
  for (let i = 0; i < SW * SH; i++) rgb.set(bg, 3 * i);
  frames.forEach((f, k) => {
    if (f.length !== width * height * 3)
      throw new Error(`frame ${k} has ${f.length} bytes, expected ${width}x${height}x3`);
    const ox = gap + (k % cols) * (width + gap);
    const oy = gap + Math.floor(k / cols) * (height + gap);
    const border = opts.borders?.[k];
    if (border && gap > 0)
      for (let y = oy - gap; y < oy + height + gap; y++)
        for (let x = ox - gap; x < ox + width + gap; x++) rgb.set(border, 3 * (y * SW + x));
    for (let y = 0; y < height; y++)
      rgb.set(f.subarray(y * width * 3, (y + 1) * width * 3), 3 * ((oy + y) * SW + ox));
  });
  return { rgb, width: SW, height: SH };
}

export function writeContactSheet(
  path: string,
  frames: readonly Uint8Array[],
  width: number,
  height: number,
  opts: SheetOptions = {},
) {
  const s = contactSheet(frames, width, height, opts);
  writePng(path, s.rgb, s.width, s.height);
  return { width: s.width, height: s.height };
}
