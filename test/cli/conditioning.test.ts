/**
 * `moga generate --save-latent | --image`, `moga regenerate` and `moga extend` as a user runs them,
 * on a micro model with dit.conditioning (the byte-level frame checks are in
 * test/pipeline/conditioning.test.ts; an MP4 is lossy, so here the saved latents are compared),
 * and every refusal: a missing shot, an image that is not a PNG, a --from made by another model,
 * a model without conditioning.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.js';
import { initModel, saveModel } from '../../src/pipeline/model.js';
import { Rng } from '../../src/tensor/random.js';
import { encodePng } from '../../src/video/png.js';
import { moveOffInit } from '../models/micro-dit.js';
import { microConfig, TWO_SHOTS } from '../pipeline/helpers.js';

let dir: string;
const path = (f: string) => join(dir, f);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'moga-cond-cli-'));
  const c = microConfig();
  for (const [name, seed, conditioning] of [
    ['model', 3, true],
    ['other', 4, true],
    ['plain', 3, false],
  ] as const) {
    const m = initModel({ ...c, dit: { ...c.dit, conditioning } }, seed);
    moveOffInit(m.dit, new Rng(seed), 0.05);
    saveModel(path(name), m, 'F32');
    m.dispose();
  }
  writeFileSync(path('two.story.json'), JSON.stringify(TWO_SHOTS));
  writeFileSync(
    path('more.story.json'),
    JSON.stringify({
      ...TWO_SHOTS,
      shots: [{ caption: 'a green square rests on a pink floor', seconds: 0.5 }],
    }),
  );
  writeFileSync(path('img.png'), encodePng(new Uint8Array(40 * 20 * 3).fill(180), 40, 20));
  writeFileSync(path('fake.png'), 'GIF89a not a png');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function moga(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--quiet'], {
    encoding: 'utf8',
  });
}

const ok = (r: ReturnType<typeof moga>, what: string) =>
  assert.equal(r.status, 0, `${what} failed: ${r.stderr.slice(-800)}`);
const latentOf = (f: string) => {
  const t = readSafetensors(path(f)).tensors.get('latent')!;
  return { data: t.data as Float32Array, shape: t.shape };
};

test('generate --save-latent, then regenerate a shot and extend: kept latent frames are the saved ones', () => {
  const gen = moga(
    'generate',
    '--story',
    path('two.story.json'),
    '--out',
    path('out.mp4'),
    '--model',
    path('model'),
    '--save-latent',
    '--guidance-until',
    '0.25',
    '--noise-correlation',
    '0.6',
    '--json',
  );
  ok(gen, 'generate');
  assert.equal(JSON.parse(gen.stdout).guidanceUntil, 0.25, 'the report: --guidance-until as given');
  assert.equal(JSON.parse(gen.stdout).noiseCorrelation, 0.6, 'the report: --noise-correlation as given');
  for (const f of ['out.mp4', 'out.json', 'out.latent.safetensors'])
    assert.ok(existsSync(path(f)), `${f} missing`);
  const saved = JSON.parse(readFileSync(path('out.json'), 'utf8'));
  assert.equal(saved.format, 'moga-generation', 'settings format');
  assert.equal(saved.seed, TWO_SHOTS.seed, 'seed saved');
  assert.match(saved.model.dit, /^[0-9a-f]{64}$/, 'the DiT weights hash');
  assert.deepEqual(saved.latent.shape, [16, 7, 4, 8], 'latent shape');
  assert.equal(saved.guidanceUntil, 0.25, 'guidanceUntil saved');
  assert.equal(saved.noiseCorrelation, 0.6, 'noiseCorrelation saved');

  const regen = moga(
    'regenerate',
    '--from',
    path('out.json'),
    '--shots',
    '1',
    '--caption',
    '1=a white star spins in front of a navy sky',
    '--out',
    path('new.mp4'),
    '--json',
  );
  ok(regen, 'regenerate');
  assert.equal(
    JSON.parse(regen.stdout).guidanceUntil,
    0.25,
    'regenerate: default guidanceUntil, the saved one',
  );
  assert.equal(
    JSON.parse(regen.stdout).noiseCorrelation,
    0.6,
    'regenerate: default noiseCorrelation, the saved one',
  );
  const a = latentOf('out.latent.safetensors').data;
  const b = latentOf('new.latent.safetensors').data;
  const per = 4 * 8;
  let changed = 0;
  a.forEach((v, i) => {
    const f = Math.floor(i / per) % 7;
    if (f < 4) assert.equal(b[i], v, `kept latent frame ${f} changed`);
    else if (b[i] !== v) changed++;
  });
  assert.ok(changed > 0, 'the regenerated shot is new');
  const renew = JSON.parse(readFileSync(path('new.json'), 'utf8'));
  assert.equal(
    renew.story.shots[1].caption,
    'a white star spins in front of a navy sky',
    'new caption saved',
  );
  assert.equal(renew.seed, TWO_SHOTS.seed + 1, 'default seed: the original + 1');
  assert.equal(renew.guidanceUntil, 0.25, 'regenerate saves the guidanceUntil it used');

  ok(
    moga(
      'extend',
      '--from',
      path('out.json'),
      '--story',
      path('more.story.json'),
      '--out',
      path('longer.mp4'),
      '--guidance-until',
      '0.5',
      '--noise-correlation',
      '0',
    ),
    'extend',
  );
  const l = latentOf('longer.latent.safetensors');
  assert.deepEqual(l.shape, [16, 10, 4, 8], 'the longer latent');
  for (let c = 0; c < 16; c++)
    for (let i = 0; i < 7 * per; i++)
      assert.equal(l.data[c * 10 * per + i], a[c * 7 * per + i], `old latent changed at channel ${c}, ${i}`);
  const longer = JSON.parse(readFileSync(path('longer.json'), 'utf8'));
  assert.equal(longer.story.shots.length, 3, 'three shots saved');
  assert.equal(longer.guidanceUntil, 0.5, 'extend --guidance-until overrides the saved one');
  assert.equal(longer.noiseCorrelation, 0, 'extend --noise-correlation overrides the saved one');
});

test('generate --image and --last-image: a PNG of another size is fitted and kept', () => {
  ok(
    moga(
      'generate',
      '--story',
      path('two.story.json'),
      '--out',
      path('img.mp4'),
      '--model',
      path('model'),
      '--image',
      '0=' + path('img.png'),
      '--last-image',
      '1=' + path('img.png'),
      '--save-latent',
    ),
    'generate --image',
  );
  assert.ok(existsSync(path('img.mp4')), 'the video');
});

test('every bad input is refused by name, nothing written', () => {
  const gen = (...extra: string[]) =>
    moga('generate', '--story', path('two.story.json'), '--out', path('bad.mp4'), ...extra);
  // regenerate / extend from the saved generation, into bad.mp4
  const from = (cmd: string, ...extra: string[]) =>
    moga(cmd, '--from', path('out.json'), ...extra, '--out', path('bad.mp4'));
  const cases: [ReturnType<typeof moga>, RegExp][] = [
    [
      gen('--model', path('model'), '--image', `5=${path('img.png')}`),
      /--image for shot 5, but the story has shots 0..1/,
    ],
    [gen('--model', path('model'), '--image', `0=${path('fake.png')}`), /fake.png: not a PNG file/],
    [gen('--model', path('model'), '--image', `first=${path('img.png')}`), /--image must be SHOT=FILE.png/],
    [
      gen('--model', path('plain'), '--image', `0=${path('img.png')}`),
      /has no conditioning input \(dit.conditioning is not set\)/,
    ],
    [from('regenerate', '--shots', '3'), /shot 3 does not exist \(the story has shots 0..1\)/],
    [from('regenerate', '--shots', '1', '--model', path('other')), /--from was made by another model/],
    [from('regenerate', '--shots', '1', '--model', path('plain')), /has no conditioning input/],
    [
      moga('regenerate', '--from', path('nope.json'), '--shots', '1', '--out', path('bad.mp4')),
      /nope.json: does not exist/,
    ],
    [from('regenerate'), /--shots is required/],
    [
      from('regenerate', '--shots', '1', '--guidance-until', 'x'),
      /regenerate: --guidance-until must be a number in \[0, 1\], got 'x'/,
    ],
    [
      from('extend', '--story', path('more.story.json'), '--guidance-until', '2'),
      /extend: --guidance-until must be a number in \[0, 1\], got '2'/,
    ],
    [from('extend'), /--story is required/],
  ];
  for (const [r, re] of cases) {
    assert.notEqual(r.status, 0, `expected a refusal matching ${re}`);
    assert.match(r.stderr, re, `stderr: ${r.stderr.slice(-400)}`);
  }
  assert.ok(!existsSync(path('bad.mp4')), 'a refused command wrote a video');
  for (const cmd of ['regenerate', 'extend']) {
    const r = moga(cmd, '--help');
    assert.equal(r.status, 0, `${cmd} --help`);
    assert.match(r.stdout, new RegExp(`usage: moga ${cmd}`), `${cmd} --help text`);
  }
});
