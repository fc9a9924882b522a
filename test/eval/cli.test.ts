/**
 * `moga eval gen --truth` end to end on one short story: files written, the ceiling scores; the
 * commands' number options (src/cli/options.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/eval-gen.js';
import { run as runProbe } from '../../src/cli/eval-probe.js';
import { integerAtLeast, positiveNumber, recipeWithFlags } from '../../src/cli/options.js';
import { run as trainProbe } from '../../src/cli/train-probe.js';

test('moga eval gen --truth writes result.json, table.md and the contact sheets', async () => {
  const out = mkdtempSync(join(tmpdir(), 'moga-eval-'));
  try {
    const log = console.log;
    console.log = () => {};
    const err = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await run(['--truth', '--stories', '1', '--seconds', '8', '--out', out]);
    } finally {
      console.log = log;
      process.stderr.write = err;
    }
    for (const f of ['result.json', 'table.md', 'worst.png', 'best.png'])
      assert.ok(existsSync(join(out, f)), f);
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.equal(r.source, 'truth');
    assert.equal(r.stories.length, 1);
    assert.ok(r.stories[0].seed >= 2 ** 31 + 2 ** 30, 'a test-split seed');
    assert.equal(r.cuts.recall, 1);
    assert.equal(r.stability.ratio, 1);
    assert.equal(r.fd.value, r.fd.floor);
    assert.equal(r.cost, null);
    assert.match(readFileSync(join(out, 'table.md'), 'utf8'), /\| truth \(world render\) \| 1 \|/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('moga eval gen --model records the sampling as run: the model settings with the flags over them', async () => {
  const out = mkdtempSync(join(tmpdir(), 'moga-eval-'));
  try {
    const err = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    const log = console.log;
    console.log = () => {};
    try {
      await run([
        ...['--model', 'models/dit-tiny', '--stories', '1', '--seconds', '8', '--steps', '1'],
        ...['--noise-correlation', '0.5', '--out', out],
      ]);
    } finally {
      console.log = log;
      process.stderr.write = err;
    }
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    const saved = JSON.parse(readFileSync('models/dit-tiny/config.json', 'utf8')).sampling;
    assert.equal(r.source, 'model');
    assert.deepEqual(r.model.sampling, { ...saved, steps: 1, noiseCorrelation: 0.5 });
    assert.notEqual(saved.noiseCorrelation, 0.5, 'the flag, not the model, decided');
    assert.equal(r.cost.steps, 1);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('number options: a clear error naming the command and flag, before anything is loaded', async () => {
  assert.equal(positiveNumber('x', 'steps', undefined), undefined);
  assert.equal(positiveNumber('x', 'steps', '2.5'), 2.5);
  assert.equal(integerAtLeast('x', 'first', '0', 0), 0);
  for (const v of ['0', '-1', 'abc', 'Infinity'])
    assert.throws(
      () => positiveNumber('x', 'steps', v),
      new RegExp(`^Error: x: --steps must be a positive number, got '${v}'$`),
    );
  assert.throws(() => integerAtLeast('x', 'first', '-1', 0), /x: --first must be an integer >= 0, got '-1'/);
  assert.throws(() => integerAtLeast('x', 'n', '1.5', 1), /x: --n must be a positive integer, got '1.5'/);
  await assert.rejects(
    runProbe(['--stories', '0', '--probe', '/nonexistent']),
    /eval probe: --stories must be a positive integer, got '0'/,
  );
  await assert.rejects(
    run(['--truth', '--first=-2', '--probe', '/nonexistent']),
    /eval gen: --first must be an integer >= 0/,
  );
  await assert.rejects(
    run(['--model', '/nonexistent', '--guidance', 'x', '--probe', '/nonexistent']),
    /eval gen: --guidance must be a number in \[0, 50\], got 'x'/,
  );
  await assert.rejects(
    run(['--model', '/nonexistent', '--guidance-until', '1.5', '--probe', '/nonexistent']),
    /eval gen: --guidance-until must be a number in \[0, 1\], got '1.5'/,
  );
  await assert.rejects(
    run(['--truth', '--guidance', '2', '--probe', '/nonexistent']),
    /eval gen: --steps, --guidance, --guidance-until and --noise-correlation need --model/,
  );
  await assert.rejects(
    run(['--noise', '--noise-correlation', '0.9', '--probe', '/nonexistent']),
    /need --model/,
  );
  await assert.rejects(
    run(['--model', '/nonexistent', '--noise-correlation', '1', '--probe', '/nonexistent']),
    /eval gen: --noise-correlation must be a number in \[0, 1\), got '1'/,
  );
  await assert.rejects(
    run(['--noise', '--through-codec', '--probe', '/nonexistent']),
    /eval gen: --through-codec needs --truth/,
  );
  await assert.rejects(
    trainProbe(['--config', 'configs/probe.json', '--max-minutes=-3']),
    /train probe: --max-minutes must be a positive number, got '-3'/,
  );
  await assert.rejects(
    trainProbe(['--config', '/nonexistent.json']),
    /train probe: cannot read recipe \/nonexistent.json/,
  );
});

test('recipe flags (--steps, --max-minutes, --out, --work, --resume) go over the recipe file, each checked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moga-recipe-'));
  try {
    const path = join(dir, 'r.json');
    const file = { steps: 10, maxMinutes: 5, out: 'o', work: 'w', lr: 0.1 };
    writeFileSync(path, JSON.stringify(file));
    assert.deepEqual(recipeWithFlags('train x', path, {}), { ...file, resume: undefined });
    assert.deepEqual(
      recipeWithFlags('train x', path, {
        steps: '20',
        'max-minutes': '1.5',
        out: 'O',
        work: 'W',
        resume: true,
      }),
      { steps: 20, maxMinutes: 1.5, out: 'O', work: 'W', lr: 0.1, resume: true },
    );
    assert.throws(
      () => recipeWithFlags('train x', path, { steps: '0' }),
      /train x: --steps must be a positive number/,
    );
    assert.throws(
      () => recipeWithFlags('train x', join(dir, 'none.json'), {}),
      /train x: cannot read recipe/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
