/**
 * Training clips (pipeline/world-clips.ts): windows of world stories with the captions of the shots
 * they show, laid out by the one cut rule. The pinned clips guard the latent caches of running
 * trainings, which are keyed by clip spec only: a clip's captions and shot frames must not change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latentFrames } from '../../src/models/latent-layout.js';
import { worldClip } from '../../src/pipeline/world-clips.js';

const SPEC = { frames: 9, width: 64, height: 32, fps: 24, minSeconds: 3, maxSeconds: 6, globalProb: 0.5 };

test('world clips: captions of the shown shots in order, shot frames tiling the latent', () => {
  const latent = latentFrames(SPEC.frames, 4).latent;
  for (let i = 0; i < 12; i++) {
    const c = worldClip(i, SPEC);
    assert.equal(c.video.length, 3 * SPEC.frames * SPEC.width * SPEC.height);
    assert.equal(c.captions.length, c.shotFrames.length);
    assert.equal(
      c.shotFrames.reduce((a, b) => a + b, 0),
      latent,
    );
    assert.ok(c.shotFrames.every((f) => f >= 1));
  }
  assert.throws(() => worldClip(0, { ...SPEC, frames: 10 }), /world clips: 10 frames is not 1 \+ 4 k/);
  assert.equal(worldClip(0, { ...SPEC, frames: 1 }).shotFrames.join(), '1', 'a single frame is one shot');
});

test('world clips: the cut rule on pinned clips (a cut after the first frame, a shot dropped)', () => {
  // clip 11 shows a cut one frame into the window: shot 0 keeps the causal first latent frame
  const a = worldClip(11, SPEC);
  assert.equal(a.start, 85);
  assert.deepEqual(a.captions, [
    'a purple checkered heart drifts left across a yellow sky, and a cyan cross rests, wide shot',
    'the circle returns and grows against a grey striped wall, wide shot',
  ]);
  assert.deepEqual(a.shotFrames, [1, 2]);
  // clip 75's second shot starts on the window's last frame: it owns no latent frame and is dropped
  const b = worldClip(75, SPEC);
  assert.equal(b.start, 20);
  assert.deepEqual(b.captions, ['a red dotted circle drifts down across a lime checkered floor, close-up']);
  assert.deepEqual(b.shotFrames, [3]);
});
