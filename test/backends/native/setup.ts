/**
 * Shared by the native suites: `describeNative`, a suite that needs the library (missing, it fails
 * the suite, or skips it where test/backends/required.ts allows: no C compiler on the PATH), and a
 * backend for every ISA build this CPU runs.
 */
import assert from 'node:assert/strict';
import { createNativeBackend, type NativeBackend } from '../../../src/backends/native/index.js';
import { loadNativeLib } from '../../../src/backends/native/lib.js';
import { Rng } from '../../../src/tensor/random.js';
import { describeNeeding } from '../required.js';

export const lib = loadNativeLib();

export function describeNative(title: string, body: () => void): void {
  describeNeeding('native', typeof lib === 'string' ? lib : undefined, title, body);
}

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
