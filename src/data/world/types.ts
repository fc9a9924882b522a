/**
 * The world's plain data. Coordinates: "world units" are fractions of the frame height; the world
 * spans x in [0, aspect], y in [0, 1], y pointing down (like pixel rows). A story is a pure
 * function of its seed and options; frames are pure functions of (story, frame index, size).
 */

export const SHAPES = [
  'circle',
  'square',
  'triangle',
  'star',
  'diamond',
  'hexagon',
  'heart',
  'cross',
] as const;
export type ShapeName = (typeof SHAPES)[number];

export const COLOURS = ['red', 'orange', 'yellow', 'green', 'cyan', 'blue', 'purple', 'white'] as const;
export type ColourName = (typeof COLOURS)[number];

/** `plain` is never said in captions; the other three are. */
export const PATTERNS = ['plain', 'dotted', 'striped', 'checkered'] as const;
export type PatternName = (typeof PATTERNS)[number];

export const BACKGROUND_KINDS = ['solid', 'gradient', 'checker', 'stripes'] as const;
export type BackgroundKind = (typeof BACKGROUND_KINDS)[number];

export const BACKGROUND_COLOURS = [
  'yellow',
  'blue',
  'grey',
  'pink',
  'brown',
  'teal',
  'navy',
  'lime',
] as const;
export type BackgroundColourName = (typeof BACKGROUND_COLOURS)[number];

export const DIRECTIONS = ['left', 'right', 'up', 'down'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const MOTION_KINDS = ['move', 'bounce', 'spin', 'grow', 'shrink', 'stay'] as const;
export type MotionKind = (typeof MOTION_KINDS)[number];

export const FRAMINGS = ['wide', 'close-up', 'pan'] as const;
export type FramingKind = (typeof FRAMINGS)[number];

export type Vec2 = [number, number];

/** A story's cast member: its look never changes, which is what recall shots test. */
export interface Character {
  id: number;
  shape: ShapeName;
  colour: ColourName;
  pattern: PatternName;
  /** Radius in world units at scale 1. */
  radius: number;
  /** Orientation at rest, radians. */
  angle: number;
  /** The shot that introduced it. */
  firstShot: number;
}

/** Position, scale and angle are functions of u = (time in shot) / (shot duration), in [0, 1]. */
export type Motion =
  | { kind: 'move'; dir: Direction; from: Vec2; to: Vec2 }
  | { kind: 'bounce'; x: number; ground: number; height: number; bounces: number }
  | { kind: 'spin'; at: Vec2; turns: number }
  | { kind: 'grow'; at: Vec2; from: number; to: number }
  | { kind: 'shrink'; at: Vec2; from: number; to: number }
  | { kind: 'stay'; at: Vec2 };

export interface ShotObject {
  character: number;
  motion: Motion;
}

export interface Background {
  kind: BackgroundKind;
  colour: BackgroundColourName;
}

export type Framing =
  | { kind: 'wide' }
  /** Zoomed in, the camera centre follows the main object (clamped to the world). */
  | { kind: 'close-up'; zoom: number }
  /** Camera centre slides linearly from (x0, cy) to (x1, cy) (world units) over the shot. */
  | { kind: 'pan'; zoom: number; cy: number; x0: number; x1: number };

export interface Shot {
  index: number;
  /** First frame of the shot (a hard cut happens here when index > 0). */
  startFrame: number;
  /** Number of frames. */
  frames: number;
  background: Background;
  framing: Framing;
  /** Drawn in order (later ones in front). objects[0] is the main object. */
  objects: ShotObject[];
  /** Set when objects[0] is an earlier character returning; the caption omits colour and pattern. */
  recall: { character: number; fromShot: number } | null;
  caption: string;
}

export interface Story {
  version: 1;
  seed: number;
  split: 'train' | 'val' | 'test';
  fps: number;
  /** Native render size (frames can be rendered at any size; the aspect fixes the world width). */
  width: number;
  height: number;
  aspect: number;
  /** Total frames = round(seconds * fps) + 1 (the MoGA convention: 60 s at 24 fps = 1441). */
  frames: number;
  seconds: number;
  characters: Character[];
  shots: Shot[];
  /** First frames of shots 1..n-1. */
  cuts: number[];
  recalls: { shot: number; character: number; fromShot: number }[];
  globalCaption: string | null;
}
