/**
 * The package root (src/index.ts) is the public API: curated, one name per thing, no internals.
 * Adding an export is a decision; this test makes it a visible one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as api from '../../src/index.js';

const exported = api as unknown as Record<string, unknown>;

test('the root exports the story API, the model API, backends and the core building blocks', () => {
  for (const name of [
    'parseStory',
    'readStory',
    'StoryError',
    'storyFrames',
    'bundledModel',
    'bundledExample',
    'loadModel',
    'generate',
    'unknownWords',
    'chooseBackend',
    'setBackend',
    'toBackend',
    'fromArray',
    'groupedAttention',
    'plans',
    'readSafetensors',
    'inspectSafetensors',
  ])
    assert.ok(name in exported, `${name} is not exported`);
});

test('internals stay out of the root', () => {
  for (const name of [
    'crc32',
    'tempPath',
    'writeDurable',
    'writeFileAtomic',
    'apply',
    'philox',
    'makeArray',
    'fmt',
    'withBackend',
    'backendChosen',
    'readyBackend',
    'paramsToEntries',
    'readStateJson',
    'runFfmpeg',
    'cuda',
  ])
    assert.ok(!(name in exported), `${name} is internal but exported`);
});

test('one name per thing: no value is exported under two names', () => {
  const names = new Map<unknown, string[]>();
  for (const [k, v] of Object.entries(exported))
    if (typeof v === 'function' || (typeof v === 'object' && v !== null))
      names.set(v, [...(names.get(v) ?? []), k]);
  const dup = [...names.values()].filter((n) => n.length > 1);
  assert.deepEqual(dup, []);
  // plans.batch is the one name for combining per-sample plans
  assert.ok(!('batchPlans' in exported) && typeof api.plans.batch === 'function');
});
