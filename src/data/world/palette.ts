/** RGB values (0..255) of the named colours, and the derived shades used by patterns and backgrounds. */
import type { BackgroundColourName, ColourName } from './types.js';

export type RGB = readonly [number, number, number];

export const OBJECT_RGB: Record<ColourName, RGB> = {
  red: [222, 44, 44],
  orange: [247, 142, 28],
  yellow: [246, 214, 36],
  green: [52, 174, 72],
  cyan: [38, 196, 214],
  blue: [44, 86, 224],
  purple: [146, 66, 206],
  white: [246, 246, 246],
};

export const BACKGROUND_RGB: Record<BackgroundColourName, RGB> = {
  yellow: [232, 208, 118],
  blue: [96, 136, 204],
  grey: [136, 136, 136],
  pink: [232, 164, 188],
  brown: [140, 98, 66],
  teal: [52, 140, 136],
  navy: [36, 44, 96],
  lime: [176, 214, 96],
};

export function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function luma(c: RGB): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

/** The colour of a pattern's marks on an object: darker on light colours, lighter on dark ones. */
export function inkOf(c: RGB): RGB {
  return luma(c) > 140 ? mix(c, [0, 0, 0], 0.45) : mix(c, [255, 255, 255], 0.55);
}

/** The second tone of a background (stripes, checker cells, gradient top, wall above a floor). */
export function shadeOf(c: RGB): RGB {
  return luma(c) > 90 ? mix(c, [0, 0, 0], 0.22) : mix(c, [255, 255, 255], 0.25);
}

export function lightOf(c: RGB): RGB {
  return mix(c, [255, 255, 255], 0.45);
}

/** Mean absolute channel difference. */
export function colourDistance(a: RGB, b: RGB): number {
  return (Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2])) / 3;
}
