/**
 * Shared by the native suites: whether the library is missing for want of a C compiler (the
 * suites then skip, with the reason; with a compiler, an unbuilt or failing library is a failure),
 * and a backend for every ISA build this CPU runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createNativeBackend, type NativeBackend } from '../../../src/backends/native/index.js';
import { loadNativeLib } from '../../../src/backends/native/lib.js';
import { Rng } from '../../../src/tensor/random.js';

const compiler = ['cc', 'gcc', 'clang'].find(
  (c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0,
);
export const lib = loadNativeLib();
/** The library is absent and no compiler could have built it. */
export const notBuilt = typeof lib === 'string' && !compiler;
/** The `skip` option of a native suite. */
export const skipUnbuilt = notBuilt ? `NOT BUILT: no C compiler (${lib})` : false;
if (notBuilt) console.log(`# native backend NOT BUILT (no C compiler on the PATH): ${lib}`);

export const rn = (shape: number[], seed: number, std = 1) => new Rng(seed).normal(shape, std);

/** Backends for every ISA build this CPU can run, at 2 threads (without the self-test: the suites
 * must catch a broken kernel themselves). */
export function builds(): NativeBackend[] {
  const out: NativeBackend[] = [];
  for (const isa of ['generic', 'avx2', 'avx512']) {
    const b = createNativeBackend({ isa, threads: 2, skipSelfTest: true });
    if (typeof b !== 'string') out.push(b);
    else assert.match(b, /cannot run on this CPU/, `${isa}: ${b}`);
  }
  return out;
}
