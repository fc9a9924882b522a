/** `moga extend`: see regenerate.ts, which holds both commands over a saved generation. */
export { runExtend as run } from './regenerate.js';
