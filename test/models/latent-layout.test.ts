/** The latent geometry and the one cut rule (models/latent-layout.ts), edge cases first. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  exactLatentFrames,
  latentCut,
  latentFrames,
  shotLayout,
  videoFramesOf,
  videoLayout,
} from '../../src/models/latent-layout.js';

describe('latent geometry (causal codec, time 4)', () => {
  test('frame counts: the first frame stands alone, partial latent frames round up', () => {
    const cases: [number, number, number][] = [
      [1, 1, 1],
      [2, 2, 5],
      [5, 2, 5],
      [6, 3, 9],
      [33, 9, 33],
      [1441, 361, 1441],
    ];
    for (const [frames, latent, decoded] of cases)
      assert.deepEqual(latentFrames(frames, 4), { latent, decoded }, `${frames} frames`);
    assert.equal(exactLatentFrames(33, 4, 'x'), 9);
    assert.throws(() => exactLatentFrames(32, 4, 'pool codec'), /pool codec: 32 frames is not 1 \+ 4 k/);
    assert.throws(() => latentFrames(0, 4), /frames >= 1/);
  });

  test('latent frames decode to consecutive video frames that tile the decoded length', () => {
    assert.deepEqual(videoFramesOf(0, 4), [0, 1]);
    assert.deepEqual(videoFramesOf(1, 4), [1, 5]);
    let next = 0;
    for (let i = 0; i < 9; i++) {
      const [f0, f1] = videoFramesOf(i, 4);
      assert.equal(f0, next);
      next = f1;
    }
    assert.equal(next, latentFrames(33, 4).decoded);
  });

  test('a cut starts the first latent frame that is at least half in the new shot', () => {
    for (const time of [2, 4]) {
      for (let s = 1; s < 40; s++) {
        const c = latentCut(s, time);
        const newShare = (i: number) => {
          const [f0, f1] = videoFramesOf(i, time);
          return (f1 - Math.max(f0, s)) / (f1 - f0);
        };
        assert.ok(newShare(c) >= 0.5, `time ${time}, cut at ${s}: latent ${c} is mostly the old shot`);
        assert.ok(
          c === 0 || newShare(c - 1) < 0.5,
          `time ${time}, cut at ${s}: latent ${c - 1} is mostly new`,
        );
      }
    }
  });
});

describe('the cut rule', () => {
  test('one shot, and a single frame (the causal first frame alone)', () => {
    assert.deepEqual(shotLayout(25, [0], 4).shotFrames, [7]);
    const one = shotLayout(1, [0], 4);
    assert.deepEqual([one.latentFrames, one.shots, one.shotStarts, one.shotFrames], [1, [0], [0], [1]]);
  });

  test('a cut right after the first frame gives shot 0 the causal first latent frame only', () => {
    const l = shotLayout(25, [0, 1], 4);
    assert.deepEqual(
      [l.shots, l.shotStarts, l.shotFrames],
      [
        [0, 1],
        [0, 1],
        [1, 6],
      ],
    );
  });

  test('a shot shorter than a latent frame owns none and is left out; the later shot wins', () => {
    // cuts at 12 and 13 both start latent frame 4 (frames 13..16)
    const l = shotLayout(25, [0, 12, 13], 4);
    assert.deepEqual(
      [l.shots, l.shotStarts, l.shotFrames],
      [
        [0, 2],
        [0, 4],
        [4, 3],
      ],
    );
    // with the next cut at 16 (one new frame in latent 4) it starts latent 5: shot 1 keeps latent 4
    assert.deepEqual(shotLayout(25, [0, 12, 16], 4).shots, [0, 1, 2]);
  });

  test('a shot that only touches the last latent frame owns nothing', () => {
    // 9 frames: latent 0 | 1..4 | 5..8; a cut at 8 leaves one new frame in latent 2
    assert.deepEqual(shotLayout(9, [0, 8], 4).shots, [0]);
    assert.deepEqual(shotLayout(9, [0, 7], 4).shotFrames, [2, 1]);
  });

  test('a cut on a decode-chunk border starts exactly there', () => {
    // generate() decodes latent [0, 1 + chunk) first: with chunk 4 the border is latent 5 = frame 17
    const l = shotLayout(33, [0, 17], 4);
    assert.deepEqual(l.shotStarts, [0, 5]);
    assert.equal(videoFramesOf(5, 4)[0], 17);
    assert.deepEqual(
      shotLayout(33, [0, 16], 4).shotStarts,
      [0, 5],
      'one new frame in latent 4 is not enough',
    );
    assert.deepEqual(shotLayout(33, [0, 15], 4).shotStarts, [0, 4], 'two of four is');
  });

  test('bad shot starts and sizes are refused', () => {
    assert.throws(() => shotLayout(25, [1, 5], 4), /must begin at 0/);
    assert.throws(() => shotLayout(25, [0, 5, 5], 4), /increase within the 25 frames \(shot 2\)/);
    assert.throws(() => shotLayout(25, [0, 25], 4), /shot 1/);
    assert.throws(
      () => videoLayout({ frames: 9, width: 60, height: 32, shotStartFrames: [0] }, { time: 4, space: 8 }),
      /60x32 is not a multiple of the codec's 8/,
    );
    const v = videoLayout({ frames: 9, width: 64, height: 32, shotStartFrames: [0] }, { time: 4, space: 8 });
    assert.deepEqual([v.height, v.width], [4, 8]);
  });
});
