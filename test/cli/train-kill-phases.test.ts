/**
 * Kill a real `moga train dit` at every phase of a checkpoint write and resume it. The trainer is
 * killed by itself with SIGKILL (no handler, no cleanup) through train/checkpoint.ts's test-only
 * MOGA_FAULT hook, during the save of step 2 of a run saving every step; the state it leaves is
 * checked (the hook fired where it says), then `--resume` must finish at step 4 bit-exact with an
 * uninterrupted run (weights and EMA), with no temp or .prev directory left and every run in the
 * model's history.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.js';
import { FAULT_PHASES } from '../../src/train/checkpoint.js';
import { microRecipe } from '../pipeline/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-train-kill-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const STEPS = 4;
const KILLED_AT = 2;

/** `moga train dit` on the micro recipe with work `work-<name>`; env added to the process's. */
function train(name: string, args: string[], env: Record<string, string> = {}) {
  const recipe = microRecipe(dir, {
    steps: STEPS,
    cache: join(dir, 'cache'),
    work: join(dir, `work-${name}`),
    out: join(dir, `model-${name}`),
  });
  const path = join(dir, `recipe-${name}.json`);
  writeFileSync(path, JSON.stringify(recipe));
  const r = spawnSync(process.execPath, [...CLI, 'train', 'dit', '--config', path, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { ...r, work: recipe.work, out: recipe.out };
}

const tensors = (file: string) =>
  new Map([...readSafetensors(file).tensors].map(([k, t]) => [k, t.data] as const));
const stepOf = (d: string) => JSON.parse(readFileSync(join(d, 'state.json'), 'utf8')).step as number;
const around = (name: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith(`work-${name}.`))
    .map((f) => f.slice(`work-${name}`.length).replace(/^\.tmp-\d+-\d+$/, '.tmp'));

let reference: { model: Map<string, unknown>; ema: Map<string, unknown> };
before(() => {
  const r = train('reference', []);
  assert.equal(r.status, 0, r.stderr);
  reference = {
    model: tensors(join(r.work, 'model.safetensors')),
    ema: tensors(join(r.work, 'ema.safetensors')),
  };
});

/** What the killed save leaves beside `<work>`, and the step of the checkpoint it leaves. */
const LEFT: Record<(typeof FAULT_PHASES)[number], { beside: string[]; step: number }> = {
  'before-temp': { beside: [], step: 1 },
  'during-temp': { beside: ['.tmp'], step: 1 },
  'before-swap': { beside: ['.tmp'], step: 1 },
  'between-renames': { beside: ['.prev', '.tmp'], step: 1 },
  'before-prev-removed': { beside: ['.prev'], step: 2 },
  after: { beside: [], step: 2 },
};

for (const phase of FAULT_PHASES) {
  test(`SIGKILL at ${phase} of the step-${KILLED_AT} save, then --resume: step ${STEPS}, bit-exact`, () => {
    const killed = train(phase, [], { MOGA_FAULT: `checkpoint:${phase}@${KILLED_AT}` });
    assert.equal(killed.signal, 'SIGKILL', `the trainer killed itself: ${killed.status} ${killed.stderr}`);
    assert.deepEqual(around(phase).sort(), LEFT[phase].beside, 'what the killed save left beside <work>');
    const at = existsSync(join(killed.work, 'state.json')) ? killed.work : `${killed.work}.prev`;
    assert.equal(stepOf(at), LEFT[phase].step, 'the checkpoint the crash left');

    const resumed = train(phase, ['--resume']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(stepOf(resumed.work), STEPS);
    assert.deepEqual(tensors(join(resumed.work, 'model.safetensors')), reference.model);
    assert.deepEqual(tensors(join(resumed.work, 'ema.safetensors')), reference.ema);
    assert.deepEqual(around(phase), [], 'no temp or .prev directory remains');
    const history = JSON.parse(readFileSync(join(resumed.out, 'config.json'), 'utf8')).training.history;
    assert.deepEqual(
      history.map((h: { fromStep: number; toStep: number }) => [h.fromStep, h.toStep]),
      [
        [0, LEFT[phase].step],
        [LEFT[phase].step, STEPS],
      ],
      'the model card lists the killed run and the resumed one',
    );
  });
}

test('MOGA_FAULT with an unknown phase is an error naming the phases, not a silent no-op', () => {
  const r = train('bad-fault', [], { MOGA_FAULT: 'checkpoint:midway@1' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /MOGA_FAULT 'checkpoint:midway@1': expected checkpoint:<before-temp\|during-temp\|/);
});
