// Runs every test/**/*.test.ts with node's own test runner through tsx.
// (Node 20's `--test` does not expand globs itself.)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const filter = process.argv.slice(2);
const files = readdirSync('test', { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join('test', f))
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filter.join(' ')}`);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit' },
);
// The native suites skip without a library; say so last, after node's own summary.
if (!existsSync('build/native/libmoga.so')) {
  const has = (c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0;
  const cc = process.env.CC || ['cc', 'gcc', 'clang'].find(has);
  console.log(
    cc && has(cc)
      ? 'native backend: not built (build/native/libmoga.so is missing: run npm run build)'
      : 'native backend: not built (no C compiler)',
  );
}
process.exit(r.status ?? 1);
