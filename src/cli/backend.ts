/** The CLI's backend choice: `--backend` when given, else the first that starts here of native, wasm, ref. */
import { setBackend } from '../backends/index.js';

/** CPU backends in order of preference (cuda only when named). */
export const DEFAULT_BACKENDS = ['native', 'wasm', 'ref'] as const;

/** Sets and returns the backend's name: the named one (its failure is an error), else the first that starts. */
export async function chooseBackend(name: string | undefined): Promise<string> {
  if (name) return (await setBackend(name)).name;
  for (const n of DEFAULT_BACKENDS.slice(0, -1)) {
    try {
      return (await setBackend(n)).name;
    } catch {
      // unavailable here (no library, no koffi, self-test failed): the next one
    }
  }
  return (await setBackend('ref')).name;
}
