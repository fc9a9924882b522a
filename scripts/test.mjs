// Runs every test/**/*.test.ts with node's own test runner through tsx.
// (Node 20's `--test` does not expand globs itself.) The last line names the backends the
// conformance suite checked and those it did not (with why), and counts the skipped suites and
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
// Which backends passed the conformance suite (test/backends/ops.test.ts, a suite `backend <name>`
// each), and which were left untested where test/backends/required.ts allows it (a suite skipped as
// `backend <name> not tested (<why>)`): said last, after node's own summary.
const checked = new Set();
const notTested = new Map();
for (const line of tap) {
  const passed = line.match(/^\s*ok \d+ - backend (\S+)$/); // a failed suite is listed as a failure
  if (passed) checked.add(passed[1]);
  const why = line.match(/# SKIP backend (\S+) not tested \(([^)]*)\)/);
  if (why) notTested.set(why[1], why[2]);
}
for (const name of skips.suite) console.log(`skipped suite: ${name}`);
const backends = [
  checked.size ? `backends checked against ref: ${[...checked].sort().join(', ')}` : '',
  notTested.size ? `not tested: ${[...notTested].map(([b, why]) => `${b} (${why})`).join(', ')}` : '',
].filter(Boolean);
console.log(
  `${backends.map((s) => `${s}; `).join('')}skipped: ${skips.suite.length} suite(s) and ${skips.test.length} test(s) outside them${skips.suite.length + skips.test.length ? ' (see above)' : ''}`,
);
process.exit(r.status ?? 1);
