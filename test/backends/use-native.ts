/**
 * Preload that makes `native` the default backend of a test process, to run any suite on it:
 *   node --import tsx --import ./test/backends/use-native.ts --test test/tensor/*.test.ts
 * (Fails loudly when native is unavailable, rather than silently testing ref.)
 */
import { setBackend } from '../../src/backends/index.js';

await setBackend('native');
