/** The backends this package knows, in order of preference. `ref` is the default until one is set. */
import { createRefBackend } from './ref/index.js';
import { registerBackend } from './registry.js';

registerBackend({ name: 'ref', priority: 100, probe: () => createRefBackend() });
// CUDA: imported only when probed, so machines without a GPU never load the FFI.
registerBackend({
  name: 'cuda',
  priority: 0,
  probe: async () => (await import('./cuda/index.js')).probeCuda(),
});
// Native C kernels through koffi (when `npm run build` found a C compiler and the start-up
// self-test passes): ahead of wasm; imported only when probed.
registerBackend({
  name: 'native',
  priority: 5,
  probe: async () => (await import('./native/index.js')).createNativeBackend(),
});
// WebAssembly SIMD on a worker pool: the default on CPU; imported only when probed.
registerBackend({
  name: 'wasm',
  priority: 10,
  probe: async () => (await import('./wasm/index.js')).createWasmBackend(),
});

export { type Backend, type Storage, type TensorRef, UnsupportedRoutineError } from './backend.js';
export * from './choose.js';
export * from './registry.js';
