import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateStory, makeRenderer } from '../../src/data/world/index.js';
import { float32ToFrame, framesToFloat32, framesToTensor } from '../../src/tensor/frames.js';

test('converts frames to float tensors in [-1, 1] in either layout', () => {
  const story = generateStory({ seed: 9, seconds: 1, fps: 2, width: 10, height: 8 });
  const renderer = makeRenderer(story);
  const frames = Array.from({ length: story.frames }, (_, f) => renderer.render(f).rgb);
  const F = frames.length;
  const P = 10 * 8;
  const fchw = framesToFloat32(frames, 10, 8, 'FCHW');
  const cfhw = framesToFloat32(frames, 10, 8, 'CFHW');
  for (let f = 0; f < F; f++)
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < P; i++) {
        const v = frames[f][3 * i + c] / 127.5 - 1;
        assert.equal(fchw[(f * 3 + c) * P + i], Math.fround(v));
        assert.equal(cfhw[(c * F + f) * P + i], Math.fround(v));
      }
  assert.deepEqual(float32ToFrame(fchw, 1, 10, 8), frames[1]);
  assert.deepEqual(framesToTensor(frames, 10, 8, 'CFHW').shape, [3, F, 8, 10]);
  const t = framesToTensor(frames, 10, 8);
  assert.deepEqual(t.shape, [F, 3, 8, 10]);
  const d = t.dataSync();
  assert.ok(
    Math.min(...d) >= -1 && Math.max(...d) <= 1,
    `values outside [-1, 1]: ${Math.min(...d)}..${Math.max(...d)}`,
  );
  assert.throws(() => framesToFloat32([new Uint8Array(5)], 10, 8), /expected 10x8x3/);
});
