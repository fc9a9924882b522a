// Runs every test/**/*.test.ts with node's own test runner through tsx.
// (Node 20's `--test` does not expand globs itself.) The last line counts the skipped suites and
// tests, a suite skipped at `describe` level included.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

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
// A TAP copy of the run on the side: node's summary counts a suite skipped at `describe` level as
// no skip at all, so the skips are counted from it and reported in the last line.
const tapFile = join(mkdtempSync(join(tmpdir(), 'moga-test-')), 'run.tap');
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    '--test-concurrency=2',
    ...files,
  ],
  { stdio: 'inherit' },
);
const skips = { suite: [], test: [] };
const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8').split('\n') : [];
tap.forEach((line, i) => {
  const m = line.match(/^\s*ok \d+ - (.*) # SKIP ?(.*)$/);
  if (!m) return;
  const isSuite = tap.slice(i + 1, i + 6).some((l) => /^\s*type: 'suite'/.test(l));
  skips[isSuite ? 'suite' : 'test'].push(`${m[1]}${m[2] ? ` (${m[2]})` : ''}`);
});
rmSync(dirname(tapFile), { recursive: true, force: true });
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
for (const name of skips.suite) console.log(`skipped suite: ${name}`);
console.log(
  `skipped: ${skips.suite.length} suite(s) and ${skips.test.length} test(s) outside them${skips.suite.length + skips.test.length ? ' (see above)' : ''}`,
);
process.exit(r.status ?? 1);
