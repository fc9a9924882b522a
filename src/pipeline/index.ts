export * from './codec.js';
export * from './generate.js';
export * from './layout.js';
export * from './model.js';
export * from './pool-codec.js';
export * from './progress.js';
export * from './story-text.js';
