/**
 * How often a DiT training window holds a recall shot together with the shot where its object
 * first appeared: the only windows from which cross-shot memory can be learned.
 *
 *   node --import tsx scripts/diag/recall-windows.ts [N=400]
 *
 * For window lengths 33 / 97 / 193 frames (24 fps) and story lengths 8-40 s / 8-16 s, over the
 * first N training clips (world-clips.ts `clipWindow`, the windows `moga train dit` draws).
 */
import { clipWindow } from '../../src/pipeline/world-clips.js';

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
      const inWindow = (k: number) =>
        story.shots[k].startFrame + story.shots[k].frames > start &&
        story.shots[k].startFrame < start + frames;
      shots += story.shots.filter((_, k) => inWindow(k)).length;
      if (story.recalls.some((r) => inWindow(r.shot) && inWindow(r.fromShot))) withRecall++;
    }
    console.log(
      `${frames} frames from ${minSeconds}-${maxSeconds} s stories: ${((100 * withRecall) / n).toFixed(1)}% of ${n} windows hold a recall and its first appearance; ${(shots / n).toFixed(2)} shots per window`,
    );
  }
}
