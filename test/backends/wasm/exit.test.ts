/** An un-disposed pool must not keep a process alive: a child process creates one and must exit. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { createWasmBackend } from '../../../src/backends/wasm/index.js';
import { describeNeeding } from '../required.js';

// Availability is decided here, where the policy applies; the child throws if wasm will not start.
const probe = createWasmBackend({ threads: 1 });
if (typeof probe !== 'string') probe.dispose();

describeNeeding('wasm', typeof probe === 'string' ? probe : undefined, 'wasm pool and process exit', () => {
  it('a process with a live wasm pool exits on its own', () => {
    const script = `
      import { createWasmBackend } from './src/backends/wasm/index.ts';
      import { useBackend, matmul, Rng } from './src/index.ts';
      const b = createWasmBackend({ threads: 2 });
      if (typeof b === 'string') throw new Error('wasm unavailable: ' + b);
      useBackend(b);
      const r = new Rng(1);
      const y = matmul(r.normal([200, 200]), r.normal([200, 200]));
      console.log('ok', y.shape.join('x'));
    `;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ok 200x200$/m);
    assert.ok(Date.now() - t0 < 30_000);
  });
});
