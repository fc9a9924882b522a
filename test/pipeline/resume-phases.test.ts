/**
 * Resume from every state a crash during a checkpoint write can leave (train/checkpoint.ts writes
 * a temp directory, renames `<work>` to `<work>.prev`, the temp to `<work>`, removes `.prev`):
 * the states are built on disk from real checkpoints of steps 1 and 2, and `trainDit --resume`
 * from each must end bit-exact where an uninterrupted run ends, leaving no temp or .prev behind.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.js';
import { trainDit } from '../../src/pipeline/train-dit.js';
import { microRecipe } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'moga-resume-phases-'));
const quiet = { log: () => {} };
let step1: string;
let step2: string;
let final: Map<string, Float32Array | Int32Array>;
let finalEma: Map<string, Float32Array | Int32Array>;

const tensors = (file: string) =>
  new Map([...readSafetensors(file).tensors].map(([k, t]) => [k, t.data] as const));

before(() => {
  // one run to step 3, snapshotting its checkpoint at steps 1 and 2
  const ref = microRecipe(root, { work: join(root, 'ref'), out: join(root, 'ref-model'), steps: 1 });
  trainDit(ref, quiet);
  step1 = join(root, 'snap-1');
  cpSync(ref.work, step1, { recursive: true });
  trainDit({ ...ref, steps: 2 }, { ...quiet, resume: true });
  step2 = join(root, 'snap-2');
  cpSync(ref.work, step2, { recursive: true });
  trainDit({ ...ref, steps: 3 }, { ...quiet, resume: true });
  final = tensors(join(ref.work, 'model.safetensors'));
  finalEma = tensors(join(ref.work, 'ema.safetensors'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A half-written temp directory of the step-2 save: no state.json, model.safetensors cut short. */
function halfTemp(at: string): void {
  cpSync(step2, at, { recursive: true });
  rmSync(join(at, 'state.json'));
  truncateSync(join(at, 'model.safetensors'), 100);
}

const PHASES: [string, (work: string) => void][] = [
  ['before the temp directory (only the step-1 checkpoint)', (w) => cpSync(step1, w, { recursive: true })],
  [
    'with the temp directory half-written',
    (w) => {
      cpSync(step1, w, { recursive: true });
      halfTemp(`${w}.tmp-999999-0`);
    },
  ],
  [
    'between the renames (only <work>.prev and a complete temp)',
    (w) => {
      cpSync(step1, `${w}.prev`, { recursive: true });
      cpSync(step2, `${w}.tmp-999999-0`, { recursive: true });
    },
  ],
  [
    'after the renames, .prev not yet removed',
    (w) => {
      cpSync(step2, w, { recursive: true });
      cpSync(step1, `${w}.prev`, { recursive: true });
    },
  ],
  ['after (only the step-2 checkpoint)', (w) => cpSync(step2, w, { recursive: true })],
];

PHASES.forEach(([phase, build], i) => {
  test(`resume after a crash ${phase}: bit-exact at step 3, nothing left over`, () => {
    const work = join(root, `work-${i}`);
    build(work);
    const r = microRecipe(root, { work, out: join(root, `model-${i}`), steps: 3 });
    assert.throws(() => trainDit(r, quiet), /already holds a checkpoint; pass --resume/);
    const res = trainDit(r, { ...quiet, resume: true });
    assert.equal(res.step, 3);
    assert.deepEqual(tensors(join(work, 'model.safetensors')), final);
    assert.deepEqual(tensors(join(work, 'ema.safetensors')), finalEma);
    const left = readdirSync(root).filter((f) => f.startsWith(`work-${i}`));
    assert.deepEqual(left, [`work-${i}`], 'no .prev or temp directory remains');
    assert.ok(existsSync(join(root, `model-${i}`, 'dit.safetensors')));
  });
});
