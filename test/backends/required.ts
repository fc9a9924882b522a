/**
 * Which backends a test run must cover: every registered one. A backend that does not start fails
 * the run, except where this machine lacks what it needs, and then the run says so:
 * - `cuda` without a GPU (no NVIDIA driver or no device);
 * - `native` without a C compiler (`npm run build` could not have built it; issue 13 asks that
 *   `npm test` pass there and say "not built"). With a compiler, a missing or broken library fails;
 * - any backend named in MOGA_TEST_OPTIONAL (comma-separated, e.g. `MOGA_TEST_OPTIONAL=wasm`), an
 *   explicit opt-out that CI does not set.
 * A suite skipped for these reasons is named `backend <name> not tested (<why>): <detail>`;
 * scripts/test.mjs gathers those into the run's last line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const has = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0;

/** The same compiler search as scripts/build.mjs: $CC, else cc, gcc, clang. */
function cCompiler(): string | undefined {
  const cc = process.env.CC || ['cc', 'gcc', 'clang'].find(has);
  return cc && has(cc) ? cc : undefined;
}

/** Why backend `name`, unavailable for `reason`, may go untested here; undefined: it must not. */
export function mayBeMissing(name: string, reason: string): string | undefined {
  const optional = (process.env.MOGA_TEST_OPTIONAL ?? '').split(',').map((s) => s.trim());
  if (optional.includes(name)) return 'opted out by MOGA_TEST_OPTIONAL';
  if (name === 'cuda' && /no NVIDIA driver|no CUDA device/.test(reason)) return 'no GPU';
  if (name === 'native' && !cCompiler()) return 'not built: no C compiler';
  return undefined;
}

/**
 * `describe(title, body)` for a suite that needs backend `name`. When the backend is unavailable
 * (`unavailable` is the reason), the suite is skipped if `mayBeMissing` allows it, and otherwise
 * replaced by one failing test that gives the reason.
 */
export function describeNeeding(
  name: string,
  unavailable: string | undefined,
  title: string,
  body: () => void,
): void {
  if (unavailable === undefined) return void describe(title, body);
  const why = mayBeMissing(name, unavailable);
  if (why) return void describe(title, { skip: `backend ${name} not tested (${why}): ${unavailable}` }, body);
  describe(title, () => {
    it(`backend ${name} starts`, () =>
      assert.fail(
        `backend ${name} is unavailable: ${unavailable} (set MOGA_TEST_OPTIONAL=${name} to run without it)`,
      ));
  });
}
