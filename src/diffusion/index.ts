export * from './dpm-solver.js';
export * from './euler.js';
export * from './guidance.js';
export * from './rectified-flow.js';
export * from './sample.js';
export * from './sampler.js';
export * from './schedule.js';
