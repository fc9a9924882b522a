/** Model directories: a re-export replaces the weights atomically and keeps the hand-written card. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initModel, loadModel, saveModel } from '../../src/pipeline/model.js';
import { microConfig } from './helpers.js';

test('saveModel over an existing directory keeps its README.md (the model card)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'moga-model-dir-'));
  try {
    const dir = join(root, 'm');
    saveModel(dir, initModel(microConfig(), 1));
    writeFileSync(join(dir, 'README.md'), '# card\n');
    saveModel(dir, initModel({ ...microConfig(), training: { steps: 7 } }, 2));
    assert.equal(readFileSync(join(dir, 'README.md'), 'utf8'), '# card\n');
    assert.equal((await loadModel(dir)).config.training?.steps, 7);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
