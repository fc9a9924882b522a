/**
 * How often a DiT training window holds a recall shot together with the shot where its object
 * first appeared: the only windows from which cross-shot memory can be learned.
 *
 *   node --import tsx scripts/diag/recall-windows.ts [N=400]
 *
 * For window lengths 33 / 97 / 193 frames (24 fps) and story lengths 8-40 s / 8-16 s, over the
 * first N training clips: the windows `moga train dit` draws (world-clips.ts `clipWindow`) and the
 * shots it trains on in them (`windowShots`: a shot owning no latent frame is dropped; the VAE's
 * 4 frames per latent frame).
 */
import { clipWindow, windowShots } from '../../src/pipeline/world-clips.js';

const n = Number(process.argv[2] ?? 400);
for (const frames of [33, 97, 193]) {
  for (const [minSeconds, maxSeconds] of [
    [8, 40],
    [8, 16],
  ]) {
    const spec = { frames, width: 160, height: 96, fps: 24, minSeconds, maxSeconds, globalProb: 0 };
    let withRecall = 0;
    let shots = 0;
    for (let i = 0; i < n; i++) {
      const { story, start } = clipWindow(i, spec);
      const kept = new Set(windowShots(story, start, frames, 4).shots.map((s) => s.index));
      shots += kept.size;
      if (story.recalls.some((r) => kept.has(r.shot) && kept.has(r.fromShot))) withRecall++;
    }
    console.log(
      `${frames} frames from ${minSeconds}-${maxSeconds} s stories: ${((100 * withRecall) / n).toFixed(1)}% of ${n} windows hold a recall and its first appearance; ${(shots / n).toFixed(2)} shots per window`,
    );
  }
}
