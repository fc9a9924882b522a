/**
 * Outputs that never half-exist, as a user meets them: Ctrl-C (SIGINT) or SIGTERM in the middle of
 * `moga generate` leaves no temp file and exits non-zero; temps of killed runs are removed by the
 * next one; an --out that is the story, a directory or not an .mp4 is refused before any work, and
 * so are seeds and guidance scales that would silently give another video than asked.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initModel, saveModel } from '../../src/pipeline/model.js';
import { microConfig, TWO_SHOTS } from '../pipeline/helpers.js';

let dir: string;
let modelDir: string;
let storyPath: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'moga-out-safety-'));
  modelDir = join(dir, 'model');
  saveModel(modelDir, initModel(microConfig(), 3));
  storyPath = join(dir, 'two.story.json');
  writeFileSync(storyPath, JSON.stringify(TWO_SHOTS));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

function moga(...args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8' });
}

const temps = (d: string) => readdirSync(d).filter((f) => f.endsWith('.tmp'));

test('--out equal to the story is refused and the story is left as it was', () => {
  const before = readFileSync(storyPath, 'utf8');
  const r = moga('generate', '--story', storyPath, '--out', storyPath, '--model', modelDir);
  assert.equal(r.status, 1);
  // the extension check fires first for a .json story; a story named .mp4 reaches the same-file check
  assert.match(r.stderr, /--out '.*two\.story\.json' must end in \.mp4/);
  assert.equal(readFileSync(storyPath, 'utf8'), before);
  const mp4Story = join(dir, 'story.mp4');
  writeFileSync(mp4Story, before);
  const r2 = moga('generate', '--story', mp4Story, '--out', mp4Story, '--model', modelDir);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /--out '.*story\.mp4' is the same file as --story/);
  assert.equal(readFileSync(mp4Story, 'utf8'), before);
  // the same file by another spelling (../ and ./)
  const r3 = moga(
    'generate',
    '--story',
    mp4Story,
    '--out',
    join(dir, '.', '..', dir.split('/').at(-1)!, 'story.mp4'),
  );
  assert.equal(r3.status, 1);
  assert.match(r3.stderr, /is the same file as --story/);
});

test('--out naming a directory or a non-.mp4 file is refused by flag and value, nothing written', () => {
  const sub = join(dir, 'clips.mp4');
  mkdirSync(sub);
  const r = moga('generate', '--story', storyPath, '--out', sub, '--model', modelDir);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /generate: --out '.*clips\.mp4' is a directory/);
  assert.deepEqual(readdirSync(sub), []);
  assert.deepEqual(temps(dir), []);
  const avi = join(dir, 'v.avi');
  const r2 = moga('generate', '--story', storyPath, '--out', avi, '--model', modelDir);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /generate: --out '.*v\.avi' must end in \.mp4/);
  assert.equal(existsSync(avi), false);
});

test('seeds outside [0, 2^32), non-finite or huge guidance, a guidance-until outside [0, 1] and a memory limit too small are refused', () => {
  const out = join(dir, 'never.mp4');
  for (const [flag, value, msg] of [
    ['--seed', '4294967296', /--seed must be an integer in \[0, 2\^32\), got '4294967296'/],
    ['--seed', '-1', /--seed must be an integer >= 0/],
    ['--seed', '1.5', /--seed must be an integer >= 0/],
    ['--seed', '', /--seed must be an integer >= 0/],
    ['--guidance', 'Infinity', /--guidance must be a number in \[0, 50\], got 'Infinity'/],
    ['--guidance', 'NaN', /--guidance must be a number/],
    ['--guidance', '51', /--guidance must be a number in \[0, 50\]/],
    ['--guidance', '', /--guidance must be a number/],
    ['--guidance-until', '-1', /generate: --guidance-until must be a number in \[0, 1\], got '-1'/],
    ['--guidance-until', '', /generate: --guidance-until must be a number in \[0, 1\], got ''/],
    ['--max-memory', 'lots', /--max-memory must be a size like 4G or 1500M, got 'lots'/],
    ['--max-memory', '1M', /this story needs about [\d.]+ GiB of memory .* more than the limit of 0\.00 GiB/],
  ] as const) {
    const r = moga('generate', '--story', storyPath, '--out', out, '--model', modelDir, `${flag}=${value}`);
    assert.equal(r.status, 1, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  assert.equal(existsSync(out), false);
});

/** Starts `moga generate` long enough to interrupt; resolves once the sampler has started. */
function startLong(out: string): {
  child: ChildProcess;
  sampling: Promise<void>;
  exit: Promise<number | null>;
} {
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      'generate',
      '--story',
      storyPath,
      '--out',
      out,
      '--model',
      modelDir,
      '--steps',
      '400',
      '--backend',
      'ref',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  const sampling = new Promise<void>((res, rej) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (/sample .*[1-9]\d*\/400/.test(err)) res();
    });
    child.on('close', () => rej(new Error(`generate ended before sampling: ${err}`)));
  });
  const exit = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  return { child, sampling, exit };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} in the middle of sampling: exit non-zero, ffmpeg stopped, no temp, no output`, async () => {
    const sub = join(dir, `sig-${signal}`);
    mkdirSync(sub);
    const out = join(sub, 'v.mp4');
    const { child, sampling, exit } = startLong(out);
    await sampling;
    assert.equal(temps(sub).length, 1, 'ffmpeg writes its temp beside the target while generating');
    child.kill(signal);
    const code = await exit;
    assert.equal(code, signal === 'SIGINT' ? 130 : 143);
    assert.deepEqual(temps(sub), []);
    assert.equal(existsSync(out), false);
  });
}

test('temps of dead processes are removed at the next start; a live process keeps its temp', () => {
  const sub = join(dir, 'stale');
  mkdirSync(sub);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited: its pid is free
  const stale = `.v.mp4.${dead}.k3.tmp`;
  const live = `.other.mp4.${process.pid}.0.tmp`;
  writeFileSync(join(sub, stale), 'half a video');
  writeFileSync(join(sub, live), 'being written');
  const r = moga(
    'generate',
    '--story',
    storyPath,
    '--out',
    join(sub, 'v.mp4'),
    '--model',
    modelDir,
    '--quiet',
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(temps(sub), [live]);
  assert.ok(existsSync(join(sub, 'v.mp4')));
});
