/** YAML story files: the same story as JSON, and every error names the line and the field path. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseStory, readStory } from '../../src/story/story.js';
import { parseYamlStory } from '../../src/story/yaml.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-yaml-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const YAML = `# two shots
title: Two shots
fps: 24
width: 160
height: 96
seed: 3
global: a story in 2 shots
shots:
  - caption: a red circle drifts right across a blue wall, wide shot
    seconds: 1.5
  - caption: >-
      a white star spins
      in front of a navy sky
    seconds: 2
`;

test('a YAML story reads as the same story as its JSON', () => {
  const path = join(dir, 'two.story.yaml');
  writeFileSync(path, YAML);
  assert.deepEqual(
    readStory(path),
    parseStory({
      title: 'Two shots',
      fps: 24,
      width: 160,
      height: 96,
      seed: 3,
      global: 'a story in 2 shots',
      shots: [
        { caption: 'a red circle drifts right across a blue wall, wide shot', seconds: 1.5 },
        { caption: 'a white star spins in front of a navy sky', seconds: 2 },
      ],
    }),
  );
});

test('a bad value is named by file, line and field path', () => {
  const cases: [string, string, RegExp][] = [
    ['seconds: 2\n', 'seconds: -2\n', /^StoryError: s\.yaml:14: shots\[1\]\.seconds: -2 is out of range/],
    ['width: 160', 'width: 150', /^StoryError: s\.yaml:4: width: 150 is not a multiple of 16/],
    ['seed: 3', 'seed: 3\nspeed: 2', /^StoryError: s\.yaml:7: speed: unknown field/],
    // a missing field: the line of the object that lacks it
    [
      '  - caption: a red circle drifts right across a blue wall, wide shot\n',
      '  - ',
      /^StoryError: s\.yaml:9: shots\[0\]\.caption: expected a non-empty string/,
    ],
    ['title: Two shots', 'title: [Two, shots]', /^StoryError: s\.yaml:2: title: expected a non-empty string/],
  ];
  for (const [from, to, re] of cases) {
    const text = YAML.replace(from, to);
    assert.notEqual(text, YAML, `${from} is in the YAML`);
    assert.throws(() => parseYamlStory(text, 's.yaml'), re);
  }
});

test('YAML syntax errors and non-object documents are placed too', () => {
  assert.throws(
    () => parseYamlStory('title: a\nshots: [\n', 's.yaml'),
    /^StoryError: s\.yaml:\d+: not valid YAML: /,
  );
  assert.throws(
    () => parseYamlStory('title: a\ntitle: b\n', 's.yaml'),
    /^StoryError: s\.yaml:2: not valid YAML: .*unique/i,
  );
  assert.throws(
    () => parseYamlStory('- 1\n- 2\n', 's.yaml'),
    /^StoryError: s\.yaml:1: expected an object of story fields/,
  );
});
