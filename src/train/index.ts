export * from './adamw.js';
export * from './checkpoint.js';
export * from './loop.js';
export * from './progress.js';
export * from './schedule.js';
