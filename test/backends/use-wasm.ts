/**
 * Preload that makes `wasm` the default backend of a test process, to run any suite on it:
 *   node --import tsx --import ./test/backends/use-wasm.ts --test test/tensor/*.test.ts
 * (Fails loudly when wasm is unavailable, rather than silently testing ref.)
 */
import { setBackend } from '../../src/backends/index.js';

await setBackend('wasm');
