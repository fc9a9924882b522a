/**
 * Where a video lands on the latent grid, computed here and nowhere else: video frames -> latent
 * frames, the video frames each latent frame decodes to, and each shot's latent frames.
 *
 * Geometry. A causal video codec (the VAE, or the 4x8x8 pool stand-in) with time factor T keeps
 * the first frame alone: latent frame 0 is video frame 0 and latent frame i > 0 is video frames
 * T(i-1)+1 .. Ti. F video frames need 1 + ceil((F - 1) / T) latent frames, which decode to
 * 1 + T (latent - 1) >= F frames (the extra ones are dropped); an encoder needs F = 1 + T k exactly.
 *
 * The cut rule, one for stories and training clips alike. A cut at video frame s starts at the
 * first latent frame whose frames are at least half in the new shot (`latentCut`); cuts never
 * move. Shot k then owns latent frames [cut(s_k), cut(s_k+1)). A shot that owns none (shorter than
 * about a latent frame, so the next cut lands on the same latent frame, or a shot that only
 * touches the last latent frame of a clip) has no place on the grid: `videoLayout` leaves it out
 * and says which shots remain. A story refuses such a shot (pipeline/layout.ts: the user asked for
 * it), a training window drops it (pipeline/world-clips.ts: the window just clips a shot).
 * This is the rule training clips were always cut by (the later of two shots in one latent frame
 * wins it), so cached clips keep their captions and shot frames.
 */

/** A codec's compression: frames per latent frame after the first, pixels per latent cell side. */
export interface LatentFactors {
  readonly time: number;
  readonly space: number;
}

/** Latent frames for F video frames, and the frames decoding them gives back (>= F). */
export function latentFrames(frames: number, time: number): { latent: number; decoded: number } {
  if (!Number.isInteger(frames) || frames < 1)
    throw new Error(`latentFrames: need an integer frames >= 1, got ${frames}`);
  const latent = 1 + Math.ceil((frames - 1) / time);
  return { latent, decoded: 1 + time * (latent - 1) };
}

/** Latent frames of an encodable video (F = 1 + time k exactly); `who` names the caller in errors. */
export function exactLatentFrames(frames: number, time: number, who: string): number {
  const { latent, decoded } = latentFrames(frames, time);
  if (decoded !== frames) throw new Error(`${who}: ${frames} frames is not 1 + ${time} k`);
  return latent;
}

/** The video frames [f0, f1) latent frame i decodes to (the causal first frame stands alone). */
export function videoFramesOf(i: number, time: number): [number, number] {
  return i === 0 ? [0, 1] : [time * (i - 1) + 1, time * i + 1];
}

/** The latent frame video frame `f` decodes from (the inverse of videoFramesOf). */
export function latentFrameOf(f: number, time: number): number {
  return f === 0 ? 0 : Math.floor((f - 1) / time) + 1;
}

/** The latent frame a cut at video frame `s` starts: the first one at least half in the new shot. */
export function latentCut(s: number, time: number): number {
  return s <= 0 ? 0 : Math.ceil((s + time / 2 - 1) / time);
}

/** The shots' latent frames of a video whose shots start at `shotStartFrames` (the first at 0). */
export interface ShotLayout {
  /** Video frames, latent frames, and the video frames the latent frames decode to (>= frames). */
  readonly frames: number;
  readonly latentFrames: number;
  readonly decodedFrames: number;
  /** The input shots that own latent frames, in order (all of them unless some were too short). */
  readonly shots: number[];
  /** Per kept shot: its first latent frame (0, then strictly increasing) and its latent frames. */
  readonly shotStarts: number[];
  readonly shotFrames: number[];
  /** First video frame of each input shot, as given. */
  readonly shotStartFrames: number[];
}

export function shotLayout(frames: number, shotStartFrames: readonly number[], time: number): ShotLayout {
  const { latent, decoded } = latentFrames(frames, time);
  const bad = shotStartFrames.findIndex((s, k) =>
    k === 0 ? s !== 0 : !(s > shotStartFrames[k - 1] && s < frames),
  );
  if (bad >= 0)
    throw new Error(
      `shot layout: shot starts [${shotStartFrames}] must begin at 0 and increase within the ${frames} frames (shot ${bad})`,
    );
  const cuts = shotStartFrames.map((s) => Math.min(latentCut(s, time), latent));
  const shots = cuts.map((_, k) => k).filter((k) => cuts[k] < (k + 1 < cuts.length ? cuts[k + 1] : latent));
  const shotStarts = shots.map((k) => cuts[k]);
  const shotFrames = shotStarts.map((s, j) => (j + 1 < shotStarts.length ? shotStarts[j + 1] : latent) - s);
  return {
    frames,
    latentFrames: latent,
    decodedFrames: decoded,
    shots,
    shotStarts,
    shotFrames,
    shotStartFrames: [...shotStartFrames],
  };
}

/** A video's full latent layout: its shots' latent frames and the latent size. */
export interface LatentLayout extends ShotLayout {
  readonly height: number;
  readonly width: number;
}

export function videoLayout(
  video: { frames: number; width: number; height: number; shotStartFrames: readonly number[] },
  codec: LatentFactors,
): LatentLayout {
  if (video.width % codec.space || video.height % codec.space)
    throw new Error(
      `video size ${video.width}x${video.height} is not a multiple of the codec's ${codec.space}`,
    );
  return {
    ...shotLayout(video.frames, video.shotStartFrames, codec.time),
    height: video.height / codec.space,
    width: video.width / codec.space,
  };
}
