/**
 * Smooth motions and camera framings as functions of u = (time in shot) / (shot duration) in
 * [0, 1]. Every function here is continuous in u, which is what "no flicker within a shot" needs.
 */
import type { Character, Framing, Motion, Shot, Vec2 } from './types.js';

export interface Pose {
  /** Centre, world units. */
  x: number;
  y: number;
  /** Multiplies the character's radius. */
  scale: number;
  /** Radians, added to the character's rest angle. */
  angle: number;
}

export interface Camera {
  /** World point at the frame centre. */
  cx: number;
  cy: number;
  /** 1 = the frame height shows the whole world height. */
  zoom: number;
}

const smooth = (u: number) => u * u * (3 - 2 * u);

export function poseAt(m: Motion, u: number): Pose {
  switch (m.kind) {
    case 'move':
      return {
        x: m.from[0] + (m.to[0] - m.from[0]) * u,
        y: m.from[1] + (m.to[1] - m.from[1]) * u,
        scale: 1,
        angle: 0,
      };
    case 'bounce': {
      // |sin| gives the contact cusp of a real bounce; the height is smooth elsewhere.
      const h = Math.abs(Math.sin(Math.PI * m.bounces * u));
      return { x: m.x, y: m.ground - m.height * h, scale: 1, angle: 0 };
    }
    case 'spin':
      return { x: m.at[0], y: m.at[1], scale: 1, angle: 2 * Math.PI * m.turns * u };
    case 'grow':
    case 'shrink':
      return { x: m.at[0], y: m.at[1], scale: m.from + (m.to - m.from) * smooth(u), angle: 0 };
    case 'stay':
      return { x: m.at[0], y: m.at[1], scale: 1, angle: 0 };
  }
}

/** Mean position over the shot (what a close-up frames for motions that stay near one place). */
export function meanPosition(m: Motion): Vec2 {
  switch (m.kind) {
    case 'move':
      return [(m.from[0] + m.to[0]) / 2, (m.from[1] + m.to[1]) / 2];
    case 'bounce':
      return [m.x, m.ground - m.height * (2 / Math.PI)];
    default:
      return [m.at[0], m.at[1]];
  }
}

function clampCentre(c: number, extent: number, zoom: number): number {
  const half = extent / (2 * zoom);
  if (half * 2 >= extent) return extent / 2;
  return Math.min(extent - half, Math.max(half, c));
}

export function cameraAt(framing: Framing, main: Motion, aspect: number, u: number): Camera {
  switch (framing.kind) {
    case 'wide':
      return { cx: aspect / 2, cy: 0.5, zoom: 1 };
    case 'close-up': {
      // Follow a moving object; frame the mean position of one that stays near a place
      // (following a bounce would bounce the camera).
      const p =
        main.kind === 'move' ? poseAt(main, u) : { x: meanPosition(main)[0], y: meanPosition(main)[1] };
      return {
        cx: clampCentre(p.x, aspect, framing.zoom),
        cy: clampCentre(p.y, 1, framing.zoom),
        zoom: framing.zoom,
      };
    }
    case 'pan':
      return { cx: framing.x0 + (framing.x1 - framing.x0) * u, cy: framing.cy, zoom: framing.zoom };
  }
}

/** u of frame f inside shot (0 at the first frame, 1 at the last). */
export function shotProgress(shot: Shot, f: number): number {
  return shot.frames <= 1 ? 0 : (f - shot.startFrame) / (shot.frames - 1);
}

/** The character's radius in world units at pose p. */
export function worldRadius(c: Character, p: Pose): number {
  return c.radius * p.scale;
}
