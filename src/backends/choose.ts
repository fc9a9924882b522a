/**
 * Which backend to run on when nobody said: the first that starts here of native, wasm, ref (cuda
 * only when named). The CLI and the library (loadModel, generate) share this one rule.
 */
import type { Backend } from './backend.js';
import { backendChosen, getBackend, setBackend } from './registry.js';

/** CPU backends in order of preference. */
export const DEFAULT_BACKENDS = ['native', 'wasm', 'ref'] as const;

/**
 * Sets and returns a backend: the named one (its failure is an error), else the first of
 * DEFAULT_BACKENDS that starts on this machine.
 */
export async function chooseBackend(name?: string): Promise<Backend> {
  if (name) return setBackend(name);
  for (const n of DEFAULT_BACKENDS.slice(0, -1)) {
    try {
      return await setBackend(n);
    } catch {
      // unavailable here (no library, no koffi, self-test failed): the next one
    }
  }
  return setBackend('ref');
}

let choosing: Promise<Backend> | undefined;

/** The backend set on purpose, else the best available one, chosen (once) and set now. */
export async function ensureBackend(): Promise<Backend> {
  if (backendChosen()) return getBackend();
  choosing ??= chooseBackend();
  return choosing;
}
