/**
 * A program from a Debian package, for tests that need one (Chromium for the studio's browser
 * test, ...): found on the machine, or installed with apt-get when it is missing and this process
 * is root with apt-get at hand, or else a reason to skip the test (which scripts/test.mjs's last
 * line counts). Nothing comes from anywhere but the machine's own Debian repositories.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type Found = { readonly path: string; readonly skip?: undefined } | { readonly skip: string };

function aptGet(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** `program` (an absolute path) from Debian package `pkg`, installing the package if need be. */
export function debianProgram(pkg: string, program: string): Found {
  if (existsSync(program)) return { path: program };
  const how = `apt-get install -y ${pkg}`;
  if (process.platform !== 'linux' || process.getuid?.() !== 0)
    return { skip: `${program} not found and not root to install it (${how})` };
  if (spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0)
    return { skip: `${program} not found and no apt-get to install it (Debian package ${pkg})` };
  process.stderr.write(`test setup: ${program} not found: ${how}\n`);
  let r = aptGet(['install', '-y', pkg]);
  if (!r.ok) {
    // a fresh machine may have no package lists yet
    aptGet(['update']);
    r = aptGet(['install', '-y', pkg]);
  }
  if (!r.ok || !existsSync(program))
    return { skip: `${how} failed: ${r.out.trim().split('\n').slice(-2).join(' / ')}` };
  return { path: program };
}
