/** The backends this package knows, in order of preference. `ref` is the default until one is set. */
import { createRefBackend } from './ref/index.js';
import { registerBackend } from './registry.js';

registerBackend({ name: 'ref', priority: 100, probe: () => createRefBackend() });

export { type Backend, type Storage, type TensorRef, UnsupportedRoutineError } from './backend.js';
export * from './registry.js';
