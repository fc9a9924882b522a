import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseStory, readStory, storyFrames } from '../../src/story/story.js';

const ok = {
  fps: 24,
  width: 224,
  height: 128,
  shots: [
    { caption: 'a red star', seconds: 30 },
    { caption: 'the star returns', seconds: 30 },
  ],
};

test('a valid story parses with defaults, and a minute at 24 fps is 1,441 frames', () => {
  const s = parseStory(ok);
  assert.equal(s.title, 'untitled');
  assert.deepEqual(storyFrames(s), { frames: 1441, shotStartFrames: [0, 720] });
});

test('each malformed field is named with its problem', () => {
  const bad: [unknown, RegExp][] = [
    [[], /expected an object of story fields/],
    [{ ...ok, shots: [] }, /story\.shots: expected a non-empty array/],
    [{ ...ok, width: 100 }, /story\.width: 100 is not a multiple of 16/],
    [{ ...ok, fps: 0 }, /story\.fps: 0 is out of range/],
    [
      { ...ok, shots: [{ caption: '', seconds: 1 }] },
      /story\.shots\[0\]\.caption: expected a non-empty string/,
    ],
    [{ ...ok, shots: [{ caption: 'x', seconds: 'long' }] }, /story\.shots\[0\]\.seconds: expected a number/],
    [{ ...ok, colour: 'red' }, /story\.colour: unknown field/],
  ];
  for (const [json, re] of bad) assert.throws(() => parseStory(json), re);
});

test('a file that is not JSON is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-story-'));
  const p = join(dir, 's.json');
  writeFileSync(p, '{ "shots": [');
  assert.throws(() => readStory(p), /s\.json: not valid JSON/);
  assert.throws(() => readStory(join(dir, 'missing.json')), /missing\.json: cannot read/);
});
