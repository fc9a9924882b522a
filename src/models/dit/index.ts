export * from './dit.js';
export * from './dit-block.js';
export * from './objective.js';
export * from './patch.js';
export * from './text.js';
