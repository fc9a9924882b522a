/**
 * Every .cu compiles for sm_90a (plus compute_80 PTX) when nvcc is present, through the build's own
 * step, which keeps fatbins newer than their sources, so after `npm run build` this only checks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { KERNEL_SRC } from './helpers.js';

const hasNvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { stdio: 'ignore' }).status === 0;

it('every CUDA source compiles for sm_90a', {
  skip: hasNvcc ? false : 'nvcc not found: CUDA sources not compiled here',
  timeout: 600_000,
}, () => {
  const r = spawnSync(process.execPath, ['scripts/build.mjs', 'cuda'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `nvcc failed:\n${r.stdout}\n${r.stderr}`);
  for (const f of readdirSync(KERNEL_SRC).filter((x) => x.endsWith('.cu'))) {
    const out = join('build/cuda', f.replace(/\.cu$/, '.fatbin'));
    assert.ok(existsSync(out) && statSync(out).size > 1000, `${out} was produced`);
  }
});
