/**
 * Ctrl-C (SIGINT) or SIGTERM to a real `moga train dit`: it stops after the current step, writes a
 * checkpoint through the atomic save, leaves no temp or .prev directory, exits 130 or 143 naming
 * the step and the command that resumes it; that command continues from the step it stopped at.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { microRecipe } from '../pipeline/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-train-signals-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const recipe = microRecipe(dir, { steps: 100000 });
const recipePath = join(dir, 'recipe.json');
writeFileSync(recipePath, JSON.stringify(recipe));
const stateStep = () => JSON.parse(readFileSync(join(recipe.work, 'state.json'), 'utf8')).step as number;
/** The checkpoint's step, -1 while there is none (or it is between the renames of a save). */
const stepNow = () => {
  try {
    return stateStep();
  } catch {
    return -1;
  }
};

/**
 * Starts the trainer, sends `signal` once a checkpoint past step `after` exists (training is under
 * way); resolves with its exit.
 */
function trainThenSignal(
  signal: 'SIGINT' | 'SIGTERM',
  after: number,
  args: string[],
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...CLI, 'train', 'dit', '--config', recipePath, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const poll = setInterval(() => {
    if (stepNow() > after) {
      clearInterval(poll);
      child.kill(signal);
    }
  }, 50);
  return new Promise((res) =>
    child.on('close', (code) => {
      clearInterval(poll);
      res({ code, stderr });
    }),
  );
}

function leftovers(): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('work') && f !== 'work');
}

test('SIGINT, then SIGTERM on the resumed run: each stops with a checkpoint, the next run continues from it', {
  timeout: 120000,
}, async () => {
  const first = await trainThenSignal('SIGINT', 0, []);
  assert.equal(first.code, 130, first.stderr);
  const m =
    /moga train dit: stopped by SIGINT at step (\d+), checkpoint in (.*); continue with: (moga train dit .*)\n/.exec(
      first.stderr,
    );
  assert.ok(m, `the stop line names the step, the checkpoint and the resume command:\n${first.stderr}`);
  const n = Number(m[1]);
  assert.ok(n >= 1, `stopped at step ${n}`);
  assert.equal(stateStep(), n, 'the checkpoint holds the step the message names');
  assert.equal(m[2], recipe.work);
  assert.equal(m[3], `moga train dit --config ${recipePath} --resume`);
  assert.deepEqual(leftovers(), [], 'no temp or .prev directory is left');

  const second = await trainThenSignal('SIGTERM', n, ['--resume']);
  assert.equal(second.code, 143, second.stderr);
  const m2 = /stopped by SIGTERM at step (\d+), checkpoint in /.exec(second.stderr);
  assert.ok(m2, second.stderr);
  const n2 = Number(m2[1]);
  assert.ok(n2 > n, `the resumed run went on from step ${n} (stopped at ${n2})`);
  assert.equal(stateStep(), n2);
  assert.deepEqual(leftovers(), []);

  const last = spawnSync(
    process.execPath,
    [...CLI, 'train', 'dit', '--config', recipePath, '--resume', '--steps', String(n2 + 2)],
    { encoding: 'utf8' },
  );
  assert.equal(last.status, 0, last.stderr);
  assert.equal(stateStep(), n2 + 2, 'the last run took exactly the 2 steps left');
  const history = JSON.parse(readFileSync(join(recipe.out, 'config.json'), 'utf8')).training.history;
  assert.deepEqual(
    history.map((h: { fromStep: number; toStep: number }) => [h.fromStep, h.toStep]),
    [
      [0, n],
      [n, n2],
      [n2, n2 + 2],
    ],
    'the model card lists the three runs, each from where the last stopped',
  );
});
