/**
 * `moga generate` and `moga demo` as a user runs them: a story file and a model directory in, an
 * MP4 and a JSON report out; a malformed story is refused by name with nothing written; a model
 * directory with a missing file is refused by name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initModel, loadModel, saveModel } from '../../src/pipeline/model.js';
import { probeVideo } from '../../src/video/index.js';
import { microConfig, TWO_SHOTS } from '../pipeline/helpers.js';

let dir: string;
let modelDir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'moga-generate-'));
  modelDir = join(dir, 'model');
  saveModel(modelDir, initModel(microConfig(), 3));
  writeFileSync(join(dir, 'two.story.json'), JSON.stringify(TWO_SHOTS));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function moga(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
}

test('moga generate --json writes the MP4 and a report that parses', async () => {
  const out = join(dir, 'two.mp4');
  const r = moga(
    'generate',
    '--story',
    join(dir, 'two.story.json'),
    '--out',
    out,
    '--model',
    modelDir,
    '--json',
    '--backend',
    'ref',
  );
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.frames, 25);
  assert.deepEqual([report.width, report.height, report.fps, report.shots], [64, 32, 24, 2]);
  assert.deepEqual(report.latent.shotStarts, [0, 4]);
  assert.equal(report.steps, 2);
  // the cost fields (pipeline/step-cost.ts): patch 1x2x2 over the latent grid, MoGA's three branches
  const { latent } = report;
  assert.equal(
    report.tokens,
    (latent.frames * latent.height * latent.width) / 4,
    'tokens = latent cells / patch',
  );
  assert.deepEqual([report.attention, report.groups], ['routed+window+frame', 2], 'branches and groups');
  assert.ok(report.sparsity > 0 && report.sparsity < 1, `sparsity ${report.sparsity} inside (0, 1)`);
  const g = report.gflopPerStep;
  assert.ok(g.attention > 0 && g.total > g.attention, `GFLOP per step ${JSON.stringify(g)}`);
  assert.match(r.stderr, /sample .*2\/2 steps/);
  const info = await probeVideo(out);
  assert.deepEqual([info.width, info.height], [64, 32]);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test('a malformed story: named error, exit code 1, no output file', () => {
  const bad = join(dir, 'bad.story.json');
  writeFileSync(bad, JSON.stringify({ ...TWO_SHOTS, shots: [{ caption: 'a red circle', seconds: -2 }] }));
  const out = join(dir, 'bad.mp4');
  const r = moga('generate', '--story', bad, '--out', out, '--model', modelDir);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.story\.json\.shots\[0\]\.seconds: -2 is out of range/);
  assert.equal(existsSync(out), false);
  const notJson = join(dir, 'broken.story.json');
  writeFileSync(notJson, '{"shots": [');
  const r2 = moga('generate', '--story', notJson, '--out', out, '--model', modelDir);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /broken\.story\.json: not valid JSON/);
  assert.equal(existsSync(out), false);
});

test('a model directory with a missing file is refused by name', async () => {
  const broken = join(dir, 'broken-model');
  saveModel(broken, initModel(microConfig(), 3));
  rmSync(join(broken, 'text.safetensors'));
  await assert.rejects(loadModel(broken), /text\.safetensors is missing/);
  writeFileSync(join(broken, 'config.json'), '{"format": "something"');
  await assert.rejects(loadModel(broken), /config\.json: not valid JSON/);
  await assert.rejects(loadModel(join(dir, 'nowhere')), /directory does not exist/);
});

test('moga demo without a model renders the ground truth, labelled as such', () => {
  const out = join(dir, 'demo.mp4');
  const r = moga(
    'demo',
    '--story',
    'examples/short.story.json',
    '--model',
    join(dir, 'nowhere'),
    '--out',
    out,
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /NO BUNDLED MODEL/);
  assert.match(r.stderr, /GROUND TRUTH/);
  assert.ok(existsSync(out));
  assert.ok(existsSync(join(dir, 'demo.json')));
});

test('unknown caption words: named in a warning and the report; --strict-vocab refuses them, writing nothing', () => {
  const story = join(dir, 'elephant.story.json');
  const shots = [TWO_SHOTS.shots[0], { caption: 'a purple elephant dances', seconds: 0.5 }];
  writeFileSync(story, JSON.stringify({ ...TWO_SHOTS, shots }));
  const out = join(dir, 'elephant.mp4');
  const args = ['generate', '--story', story, '--out', out, '--model', modelDir, '--backend', 'ref'];
  const strict = moga(...args, '--strict-vocab');
  assert.equal(strict.status, 1);
  assert.match(strict.stderr, /outside the model's vocabulary: shots\[1\]: elephant, dances/);
  assert.equal(existsSync(out), false);
  const r = moga(...args, '--json', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /warning: words the model does not know .*shots\[1\]: elephant, dances/);
  assert.deepEqual(JSON.parse(r.stdout).unknownWords, [{ caption: 1, words: ['elephant', 'dances'] }]);
});

test('moga --version prints package.json version; --help lists every command', async () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
  const v = moga('--version');
  assert.equal(v.status, 0);
  assert.equal(v.stdout.trim(), version);
  const h = moga('--help');
  for (const c of ['demo', 'generate', 'train', 'eval', 'inspect', 'world', '--version'])
    assert.match(h.stdout, new RegExp(`^  ${c} `, 'm'));
});
