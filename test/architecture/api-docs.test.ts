/**
 * The API reference (`npm run docs`: TypeDoc over src/index.ts into docs/api/) builds without a
 * warning: every type the public API refers to is exported and every {@link} resolves.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

test('TypeDoc builds the API reference with no warnings (typedoc.json treats them as errors)', () => {
  const out = mkdtempSync(join(tmpdir(), 'moga-api-'));
  try {
    const r = spawnSync(process.execPath, ['node_modules/typedoc/bin/typedoc', '--out', out], {
      encoding: 'utf8',
    });
    const log = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, log);
    assert.doesNotMatch(log, /\[warning\]/);
    assert.ok(existsSync(join(out, 'functions', 'loadModel.html')), 'loadModel has a page');
    assert.match(readFileSync(join(out, 'functions', 'generate.html'), 'utf8'), /validated first/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
